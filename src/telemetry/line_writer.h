#pragma once
// Writing one JSON log line into a buffer the caller sized for it: fixed text copied with sizes known at compile
// time, strings escaped eight bytes at a time (core::json_escape_into). Shared by the access and authorize logs.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "core/strings.h"

namespace postern::telemetry {

// Writes into a buffer the caller sized with line_bound(): fixed text is copied with sizes known at compile time.
class LineWriter {
 public:
  explicit LineWriter(char* out) : begin_(out), out_(out) {}
  template <std::size_t N>
  void literal(const char (&text)[N]) {
    std::memcpy(out_, text, N - 1);
    out_ += N - 1;
  }
  void string(std::string_view s) { out_ += core::json_escape_into(out_, s); }
  void number(std::uint64_t v) { out_ = std::to_chars(out_, out_ + 20, v).ptr; }
  void ch(char c) { *out_++ = c; }
  void raw(const char* p, std::size_t n) {
    if (n == 0) return;  // an empty view may have a null data(): memcpy must not see it (UBSan found this)
    std::memcpy(out_, p, n);
    out_ += n;
  }
  [[nodiscard]] std::size_t size() const { return static_cast<std::size_t>(out_ - begin_); }

 private:
  char* begin_;
  char* out_;
};

// "2026-11-29T10:05:37.123Z" (24 bytes). The formatted second is cached per thread: only milliseconds change
// between most lines.
inline void write_time(LineWriter& w) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached[64];
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  if (secs != cached_second) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = secs;
  }
  w.raw(cached, 19);
  const char frac[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10), 'Z'};
  w.raw(frac, 5);
}

}  // namespace postern::telemetry
