// Compact binary encoding for stored records: varints and length-prefixed strings.
// Every record starts with a format version byte so that later releases can read older data.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hookd::storage {

// Thrown when stored bytes do not decode: the data is corrupt or from an unknown format.
struct CorruptRecord : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Encoder {
 public:
  // `reserve` bytes up front: a record with a 1 KiB body would otherwise be copied as it grows.
  explicit Encoder(std::size_t reserve = 0) { out_.reserve(reserve); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v);
  void svarint(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void str(std::string_view s);
  void strings(const std::vector<std::string>& v);
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint64_t varint();
  std::int64_t svarint() {
    std::uint64_t v = varint();
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  }
  std::string str();
  std::vector<std::string> strings();
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// Big-endian fixed 8 bytes, so that key order is numeric order.
std::string be64(std::uint64_t v);
std::uint64_t read_be64(std::string_view bytes);

}  // namespace hookd::storage
