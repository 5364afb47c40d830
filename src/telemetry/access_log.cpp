#include "telemetry/access_log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
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
  fmt::format_to(std::back_inserter(out), "{}.{:03d}Z", cached, static_cast<int>(ms));
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
  fmt::format_to(std::back_inserter(buffer_), ",\"status\":{},\"duration_ms\":{:.3f}", r.status, r.duration_ms);
  append_string(buffer_, "upstream", r.upstream);
  fmt::format_to(std::back_inserter(buffer_), ",\"bytes_in\":{},\"bytes_out\":{}", r.bytes_in, r.bytes_out);
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
