#include "telemetry/access_log.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <ctime>
#include <mutex>

#include "core/strings.h"

namespace postern::telemetry {
namespace {

std::mutex stdout_mutex;

// Per-thread cache of the formatted second; only the milliseconds change between most lines.
void append_time(std::string& out) {
  thread_local std::time_t cached_second = 0;
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
  out += cached;
  char frac[6] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10), 'Z', '\0'};
  out.append(frac, 5);
}

void append_number(std::string& out, std::string_view key, std::uint64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out += ",\"";
  out += key;
  out += "\":";
  out.append(digits, end);
}

void append_string(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":\"";
  core::append_json_escaped(out, value);
  out += '"';
}

}  // namespace

bool AccessLog::append(const AccessRecord& r) {
  const bool was_empty = buffer_.empty();
  buffer_ += "{\"time\":\"";
  append_time(buffer_);
  buffer_ += '"';
  append_string(buffer_, "request_id", r.request_id);
  append_string(buffer_, "method", r.method);
  append_string(buffer_, "host", r.host);
  append_string(buffer_, "path", r.path);
  append_number(buffer_, "status", r.status);
  // duration_ms with three decimals, from integer microseconds.
  const auto micros = static_cast<std::uint64_t>(r.duration_ms * 1000.0 + 0.5);
  append_number(buffer_, "duration_ms", micros / 1000);
  char frac[4] = {'.', static_cast<char>('0' + micros / 100 % 10), static_cast<char>('0' + micros / 10 % 10),
                  static_cast<char>('0' + micros % 10)};
  buffer_.append(frac, 4);
  append_string(buffer_, "upstream", r.upstream);
  append_number(buffer_, "bytes_in", r.bytes_in);
  append_number(buffer_, "bytes_out", r.bytes_out);
  append_string(buffer_, "client_ip", r.client_ip);
  buffer_ += "}\n";
  if (buffer_.size() >= max_buffered) {
    flush();
    return false;
  }
  return was_empty;
}

void AccessLog::flush() {
  if (buffer_.empty()) return;
  std::lock_guard lock(stdout_mutex);
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // stdout closed or broken: drop the batch rather than stall the worker
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  buffer_.clear();
}

}  // namespace postern::telemetry
