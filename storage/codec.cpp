#include "storage/codec.hpp"

namespace hookd::storage {

void Encoder::varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Encoder::str(std::string_view s) {
  varint(s.size());
  out_.append(s);
}

void Encoder::strings(const std::vector<std::string>& v) {
  varint(v.size());
  for (const auto& s : v) str(s);
}

std::uint8_t Decoder::u8() {
  if (pos_ >= in_.size()) throw CorruptRecord("record truncated");
  return static_cast<std::uint8_t>(in_[pos_++]);
}

std::uint64_t Decoder::varint() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    std::uint8_t b = u8();
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw CorruptRecord("varint too long");
}

std::string Decoder::str() {
  std::uint64_t n = varint();
  if (n > in_.size() - pos_) throw CorruptRecord("string runs past the record");
  std::string s(in_.substr(pos_, n));
  pos_ += n;
  return s;
}

std::vector<std::string> Decoder::strings() {
  std::uint64_t n = varint();
  if (n > in_.size() - pos_) throw CorruptRecord("list runs past the record");
  std::vector<std::string> v;
  v.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) v.push_back(str());
  return v;
}

std::string be64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::uint64_t read_be64(std::string_view bytes) {
  if (bytes.size() < 8) throw CorruptRecord("short big-endian integer");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace hookd::storage
