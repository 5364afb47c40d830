#pragma once
// Pacing for Okta's rate limits (okta.md §3), as pure logic with the clock passed in. Every Management API call of
// the directory sync asks `wait_before` and reports its answer to `record`:
// - per bucket, Okta's X-Rate-Limit-Limit / -Remaining / -Reset are remembered; once what is left of the window falls
//   to the share reserved for the org's other clients (`reserve`, default half of the limit), calls wait for the
//   window's end, so Postern never spends the org's whole budget;
// - a 429 waits until the reset, measured against Okta's own `Date` header rather than the local clock (the two may
//   disagree by minutes), plus a second, capped; a bounded number of retries follows;
// - the window's end is kept in local time: reset − Date (the server's view of the time left) + now.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/string_hash.h"

namespace postern::directory {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

// What one answer said about its bucket.
struct RateHeaders {
  unsigned status = 0;
  std::optional<std::int64_t> limit, remaining, reset;  // reset: epoch seconds, Okta's clock
  std::optional<TimePoint> server_date;                 // the response's Date header
  // Reads X-Rate-Limit-* and Date; values that do not parse (or repeat, as in Okta's duplicated headers) are
  // left out.
  template <class Response>
  static RateHeaders of(const Response& r);
};

class RateLimiter {
 public:
  static constexpr Millis max_wait{60'000};  // no single wait is longer (a bad Reset must not stall the sync for hours)
  static constexpr int max_retries = 4;      // 429s in a row for one call before it fails

  // `reserve`: the fraction of each bucket left to the org's other clients (0 = use it all; 0.5 by default).
  explicit RateLimiter(double reserve = 0.5) : reserve_(reserve) {}

  // How long to wait before calling into `bucket` now (0: go).
  [[nodiscard]] Millis wait_before(std::string_view bucket, TimePoint now) const;
  // Records an answer from `bucket`; for a 429 returns how long to wait before retrying.
  std::optional<Millis> record(std::string_view bucket, const RateHeaders& h, TimePoint now);

 private:
  struct Window {
    std::int64_t limit = 0;
    std::int64_t remaining = 0;
    TimePoint ends{};  // local time
  };
  double reserve_;
  core::StringMap<Window> windows_;
};

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110's IMF-fixdate) → time point; nullopt otherwise.
[[nodiscard]] std::optional<TimePoint> parse_http_date(std::string_view text) noexcept;

template <class Response>
RateHeaders RateHeaders::of(const Response& r) {
  RateHeaders h;
  h.status = r.status;
  auto number = [](std::string_view v) -> std::optional<std::int64_t> {
    if (v.empty() || v.size() > 18) return std::nullopt;
    std::int64_t n = 0;
    for (const char c : v) {
      if (c < '0' || c > '9') return std::nullopt;  // also refuses "123, 123" (duplicated headers)
      n = n * 10 + (c - '0');
    }
    return n;
  };
  h.limit = number(r.header("X-Rate-Limit-Limit"));
  h.remaining = number(r.header("X-Rate-Limit-Remaining"));
  h.reset = number(r.header("X-Rate-Limit-Reset"));
  h.server_date = parse_http_date(r.header("Date"));
  return h;
}

}  // namespace postern::directory
