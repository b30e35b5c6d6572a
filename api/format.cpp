#include "api/format.hpp"

#include <ctime>

namespace hookd::api {

namespace {

// Writes `value` as `width` decimal digits, zero-padded. (snprintf cost about a microsecond per
// timestamp, and a batch's answer has a hundred.)
char* put_digits(char* out, int value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) out[i] = static_cast<char>('0' + value % 10);
  return out + width;
}

}  // namespace

std::string iso8601(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[24];  // YYYY-MM-DDTHH:MM:SS.mmmZ
  char* p = put_digits(out, tm.tm_year + 1900, 4);
  *p++ = '-';
  p = put_digits(p, tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits(p, tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits(p, tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_min, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_sec, 2);
  *p++ = '.';
  p = put_digits(p, static_cast<int>(ms % 1000), 3);
  *p++ = 'Z';
  return std::string(out, p);
}

}  // namespace hookd::api
