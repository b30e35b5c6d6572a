#include "storage/store.hpp"

#include <gtest/gtest.h>

#include "storage/codec.hpp"
#include "tests/support/temp_dir.hpp"

namespace hookd::storage {
namespace {

Webhook webhook(Store& store, const std::string& integration, const std::string& id) {
  Webhook w;
  w.integration_id = integration;
  w.seq = store.next_webhook_seq();
  w.id = id;
  w.url = "https://example.com/" + id;
  w.events = {"Payout.created", "Invoice.paid"};
  w.secret_key = "secret-" + id;
  w.metadata_json = R"({"k":"v"})";
  w.created_at_ms = 42;
  return w;
}

void commit(Store& store, Batch& batch) { ASSERT_TRUE(store.write(batch).is_ok()); }

TEST(Codec, RoundTripsAndRejectsTruncation) {
  Encoder e;
  e.u8(7);
  e.varint(300);
  e.svarint(-5);
  e.str("hello");
  e.strings({"a", "", "c"});
  std::string bytes = e.take();

  Decoder d(bytes);
  EXPECT_EQ(d.u8(), 7);
  EXPECT_EQ(d.varint(), 300u);
  EXPECT_EQ(d.svarint(), -5);
  EXPECT_EQ(d.str(), "hello");
  EXPECT_EQ(d.strings(), (std::vector<std::string>{"a", "", "c"}));
  EXPECT_TRUE(d.done());

  Decoder cut(std::string_view(bytes).substr(0, bytes.size() - 1));
  cut.u8();
  cut.varint();
  cut.svarint();
  cut.str();
  EXPECT_THROW(cut.strings(), CorruptRecord);
  EXPECT_EQ(read_be64(be64(0x0102030405060708ULL)), 0x0102030405060708ULL);
  EXPECT_LT(be64(255), be64(256));  // key order is numeric order
}

TEST(Store, WebhooksRoundTripAndListInCreationOrder) {
  test::TempDir dir;
  Store store({dir.str()});
  Batch batch = store.batch();
  std::vector<Webhook> made;
  for (const char* id : {"zeta", "alpha", "mid"}) {
    made.push_back(webhook(store, "int-1", id));
    batch.put_webhook(made.back());
  }
  batch.put_webhook(webhook(store, "int-2", "alpha"));  // same id, other integration
  commit(store, batch);

  auto found = store.find_webhook("int-1", "alpha");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->url, "https://example.com/alpha");
  EXPECT_EQ(found->events, made[1].events);
  EXPECT_EQ(found->metadata_json, R"({"k":"v"})");
  EXPECT_EQ(found->seq, made[1].seq);

  auto page = store.list_webhooks("int-1", 0, 10);
  EXPECT_EQ(page.total, 3u);
  ASSERT_EQ(page.items.size(), 3u);
  EXPECT_EQ(page.items[0].id, "zeta");
  EXPECT_EQ(page.items[1].id, "alpha");
  EXPECT_EQ(page.items[2].id, "mid");

  auto second = store.list_webhooks("int-1", 1, 1);
  EXPECT_EQ(second.total, 3u);
  ASSERT_EQ(second.items.size(), 1u);
  EXPECT_EQ(second.items[0].id, "alpha");
  EXPECT_EQ(store.list_webhooks("int-2", 0, 10).total, 1u);
  EXPECT_FALSE(store.find_webhook("int-3", "alpha"));
}

TEST(Store, RenameKeepsPositionAndFreesOldId) {
  test::TempDir dir;
  Store store({dir.str()});
  Batch batch = store.batch();
  Webhook a = webhook(store, "i", "a"), b = webhook(store, "i", "b");
  batch.put_webhook(a);
  batch.put_webhook(b);
  commit(store, batch);

  Webhook renamed = a;
  renamed.id = "a2";
  Batch rename = store.batch();
  rename.put_webhook(renamed, a.id);
  commit(store, rename);

  EXPECT_FALSE(store.find_webhook("i", "a"));
  ASSERT_TRUE(store.find_webhook("i", "a2"));
  auto page = store.list_webhooks("i", 0, 10);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].id, "a2");

  Batch del = store.batch();
  del.delete_webhook(renamed);
  commit(store, del);
  EXPECT_FALSE(store.find_webhook("i", "a2"));
  EXPECT_EQ(store.list_webhooks("i", 0, 10).total, 1u);
}

TEST(Store, SequenceSurvivesReopenAndIsNeverReused) {
  test::TempDir dir;
  std::uint64_t last = 0;
  {
    Store store({dir.str()});
    Batch batch = store.batch();
    Webhook w1 = webhook(store, "i", "1");
    Webhook w2 = webhook(store, "i", "2");
    // Written out of order: the stored high-water mark must still be the larger one.
    batch.put_webhook(w2);
    commit(store, batch);
    Batch other = store.batch();
    other.put_webhook(w1);
    commit(store, other);
    Batch del = store.batch();
    del.delete_webhook(w2);  // the newest is gone; its number must not come back
    commit(store, del);
    last = w2.seq;
  }
  Store reopened({dir.str()});
  EXPECT_GT(reopened.next_webhook_seq(), last);
}

TEST(Store, SecondOpenOfADirectoryIsBusy) {
  test::TempDir dir;
  Store store({dir.str()});
  try {
    Store second({dir.str()});
    FAIL() << "opened twice";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind, StoreError::Kind::Busy);
  }
}

TEST(Store, ApiKeysByHashAndId) {
  test::TempDir dir;
  Store store({dir.str()});
  Batch batch = store.batch();
  batch.put_integration({"i1", "one", 1});
  ApiKey key{"key_1", "hash-1", {"i1"}, kScopeManage, 5};
  batch.put_api_key(key);
  commit(store, batch);

  ASSERT_TRUE(store.find_api_key_by_hash("hash-1"));
  EXPECT_EQ(store.find_api_key_by_hash("hash-1")->integrations, std::vector<std::string>{"i1"});
  ASSERT_TRUE(store.find_api_key("key_1"));
  EXPECT_EQ(store.list_api_keys().size(), 1u);
  EXPECT_EQ(store.list_integrations().at(0).name, "one");

  Batch revoke = store.batch();
  revoke.delete_api_key(key);
  commit(store, revoke);
  EXPECT_FALSE(store.find_api_key_by_hash("hash-1"));
  EXPECT_FALSE(store.find_api_key("key_1"));
}

TEST(Store, IdempotencyRecordsExpire) {
  test::TempDir dir;
  Store store({dir.str()});
  const std::int64_t ttl = 1000;
  Batch batch = store.batch();
  batch.put_idempotency("i", "old", {"fp", 201, "{}", 0});
  batch.put_idempotency("i", "new", {"fp", 200, "{}", 900});
  commit(store, batch);

  EXPECT_TRUE(store.find_idempotency("i", "old", 999, ttl));
  EXPECT_FALSE(store.find_idempotency("i", "old", 1000, ttl));
  EXPECT_FALSE(store.find_idempotency("other", "new", 1000, ttl));
  EXPECT_EQ(store.purge_idempotency(1000, ttl), 1u);
  EXPECT_TRUE(store.find_idempotency("i", "new", 1000, ttl));
  EXPECT_EQ(store.purge_idempotency(1000, ttl), 0u);
}

TEST(Store, BatchIsAtomicAcrossFamiliesAndDurableAcrossReopen) {
  test::TempDir dir;
  {
    Store store({dir.str()});
    Batch batch = store.batch();
    batch.put_integration({"i", "n", 1});
    batch.put_webhook(webhook(store, "i", "w"));
    batch.put_idempotency("i", "k", {"fp", 201, "body", 1});
    commit(store, batch);
  }
  Store store({dir.str()});
  EXPECT_TRUE(store.find_integration("i"));
  EXPECT_TRUE(store.find_webhook("i", "w"));
  EXPECT_TRUE(store.find_idempotency("i", "k", 2, 1000));
}

}  // namespace
}  // namespace hookd::storage
