#include "directory/rate_limiter.h"

#include <algorithm>
#include <array>
#include <ctime>

namespace postern::directory {
namespace chrono = std::chrono;

std::optional<TimePoint> parse_http_date(std::string_view s) noexcept {
  // "Sun, 06 Nov 1994 08:49:37 GMT": exactly 29 characters.
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int day = 0, year = 0, h = 0, m = 0, sec = 0;
  if (!num(5, 2, day) || !num(12, 4, year) || !num(17, 2, h) || !num(20, 2, m) || !num(23, 2, sec)) return std::nullopt;
  const auto month = std::find(months.begin(), months.end(), s.substr(8, 3));
  if (month == months.end() || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(month - months.begin());
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return chrono::system_clock::from_time_t(t);
}

Millis RateLimiter::wait_before(std::string_view bucket, TimePoint now) const {
  const auto it = windows_.find(bucket);
  if (it == windows_.end() || now >= it->second.ends) return Millis{0};
  const Window& w = it->second;
  const auto kept = static_cast<std::int64_t>(static_cast<double>(w.limit) * reserve_);
  if (w.remaining > kept) return Millis{0};
  return std::min(max_wait, chrono::ceil<Millis>(w.ends - now));
}

std::optional<Millis> RateLimiter::record(std::string_view bucket, const RateHeaders& h, TimePoint now) {
  // The window's end in local time: what Okta says is left of it (reset − its Date), from now. Without a Date the
  // local clock stands in; without a reset there is nothing to pace on.
  std::optional<TimePoint> ends;
  if (h.reset) {
    const TimePoint reset{chrono::seconds(*h.reset)};
    const TimePoint server_now = h.server_date.value_or(now);
    ends = now + std::clamp<TimePoint::duration>(reset - server_now + chrono::seconds(1), TimePoint::duration{0},
                                                 TimePoint::duration(max_wait));
  }
  if (h.limit && h.remaining && ends) {
    auto& w = windows_[std::string(bucket)];
    w.limit = *h.limit;
    w.remaining = *h.remaining;
    w.ends = *ends;
  }
  if (h.status != 429) return std::nullopt;
  // Over the limit (or the concurrency limit, Limit 0): wait for the reset; with no usable reset, a short pause.
  if (!ends) return Millis{1000};
  return std::max(Millis{1000}, chrono::ceil<Millis>(*ends - now));
}

}  // namespace postern::directory
