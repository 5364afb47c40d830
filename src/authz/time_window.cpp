#include "authz/time_window.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>

#include "core/strings.h"

namespace postern::authz {
namespace chrono = std::chrono;

namespace {

// Reads exactly `n` digits at `i`.
bool digits(std::string_view s, std::size_t& i, std::size_t n, int& out) noexcept {
  if (i + n > s.size()) return false;
  out = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const char c = s[i + k];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  i += n;
  return true;
}

// Reads 1 or 2 digits at `i`.
bool one_or_two_digits(std::string_view s, std::size_t& i, int& out) noexcept {
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') return digits(s, i, 2, out);
    return digits(s, i, 1, out);
  }
  return false;
}

// ".123456789" after seconds: up to 9 digits.
bool fraction(std::string_view s, std::size_t& i, chrono::nanoseconds& out) noexcept {
  out = {};
  if (i >= s.size() || s[i] != '.') return true;
  ++i;
  std::int64_t ns = 0;
  std::size_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (++n > 9) return false;
    ns = ns * 10 + (s[i++] - '0');
  }
  if (n == 0) return false;
  for (std::size_t k = n; k < 9; ++k) ns *= 10;
  out = chrono::nanoseconds(ns);
  return true;
}

const date::time_zone* find_zone(std::string_view name, std::string& error) {
  if (name.empty()) {
    error = "needs timezone: an IANA time zone name such as America/New_York or UTC";
    return nullptr;
  }
  if (name.size() > 64 || name.find_first_of(" \t\r\n\\") != std::string_view::npos || name.find("..") != std::string_view::npos) {
    error = "\"" + std::string(name) + "\" is not an IANA time zone name";
    return nullptr;
  }
  try {
    const auto* zone = date::locate_zone(name);
    (void)zone->get_info(chrono::system_clock::now());  // loads the zone's transitions now, not on the data path
    return zone;
  } catch (const std::exception&) {
    error = "unknown time zone \"" + std::string(name) + "\" (expected an IANA name such as Europe/Paris; is tzdata installed?)";
    return nullptr;
  }
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view s) noexcept {
  s = core::trim(s);
  std::size_t i = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, mo) || i >= s.size() ||
      s[i++] != '-' || !digits(s, i, 2, d))
    return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{unsigned(mo)}, date::day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  chrono::nanoseconds frac{};
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, mi)) return std::nullopt;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, sec) || !fraction(s, i, frac)) return std::nullopt;
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  chrono::minutes offset{0};
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
    } else if (s[i] == '+' || s[i] == '-') {
      const int sign = s[i++] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      if (!digits(s, i, 2, oh)) return std::nullopt;
      if (i < s.size() && s[i] == ':') ++i;
      if (i < s.size() && !digits(s, i, 2, om)) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset = sign * (chrono::hours(oh) + chrono::minutes(om));
    }
  }
  if (i != s.size()) return std::nullopt;
  const auto t = date::sys_days(ymd) + chrono::hours(h) + chrono::minutes(mi) + chrono::seconds(sec) - offset;
  return chrono::time_point_cast<TimePoint::duration>(t + frac);
}

std::optional<chrono::nanoseconds> parse_clock_time(std::string_view s) noexcept {
  s = core::trim(s);
  std::size_t i = 0;
  int h = 0, m = 0, sec = 0;
  if (!one_or_two_digits(s, i, h)) return std::nullopt;
  bool has_minutes = false;
  chrono::nanoseconds frac{};
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!digits(s, i, 2, m)) return std::nullopt;
    has_minutes = true;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, sec) || !fraction(s, i, frac)) return std::nullopt;
    }
  }
  std::string_view rest = core::trim(s.substr(i));
  if (!rest.empty()) {
    // 12-hour clock: "3PM", "3:04 pm".
    if (rest.size() != 2 || (rest[1] != 'M' && rest[1] != 'm') || sec != 0 || frac.count() != 0) return std::nullopt;
    const bool pm = rest[0] == 'P' || rest[0] == 'p';
    if (!pm && rest[0] != 'A' && rest[0] != 'a') return std::nullopt;
    if (h < 1 || h > 12) return std::nullopt;
    h = (h % 12) + (pm ? 12 : 0);
  } else if (!has_minutes) {
    return std::nullopt;  // a bare "15" is ambiguous
  }
  if (h > 23 || m > 59 || sec > 59) return std::nullopt;
  return chrono::hours(h) + chrono::minutes(m) + chrono::seconds(sec) + frac;
}

std::optional<std::uint8_t> parse_days(std::string_view text) noexcept {
  static constexpr std::array<std::string_view, 7> full = {"sunday",   "monday", "tuesday", "wednesday",
                                                           "thursday", "friday", "saturday"};
  auto day = [&](std::string_view w) -> int {
    w = core::trim(w);
    if (w.size() < 3 || w.size() > 9) return -1;
    char lower[9];
    for (std::size_t k = 0; k < w.size(); ++k) lower[k] = static_cast<char>(w[k] >= 'A' && w[k] <= 'Z' ? w[k] + 32 : w[k]);
    const std::string_view l(lower, w.size());
    for (int k = 0; k < 7; ++k)
      if (l == full[k] || (l.size() == 3 && full[k].starts_with(l))) return k;
    return -1;
  };
  text = core::trim(text);
  if (text == "*") return std::uint8_t{0x7f};
  std::uint8_t bits = 0;
  while (true) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    const auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      const int d = day(item);
      if (d < 0) return std::nullopt;
      bits |= std::uint8_t(1u << d);
    } else {
      const int a = day(item.substr(0, dash)), b = day(item.substr(dash + 1));
      if (a < 0 || b < 0) return std::nullopt;
      for (int k = a;; k = (k + 1) % 7) {
        bits |= std::uint8_t(1u << k);
        if (k == b) break;
      }
    }
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return bits;
}

std::string TimeWindow::make_date(std::optional<std::string_view> after, std::optional<std::string_view> before,
                                  TimeWindow& out) {
  out.kind_ = Kind::date;
  if (!after && !before) return "needs after, before or both (ISO-8601 dates such as 2026-01-31T18:00:00Z)";
  for (auto [text, slot, saved] : {std::tuple{after, &out.after_, &out.after_text_},
                                   std::tuple{before, &out.before_, &out.before_text_}}) {
    if (!text) continue;
    *slot = parse_iso8601(*text);
    if (!*slot) return "\"" + std::string(*text) + "\" is not an ISO-8601 date such as 2026-01-31 or 2026-01-31T18:00:00Z";
    *saved = std::string(*text);
  }
  return {};
}

std::string TimeWindow::make_days(std::string_view days, std::string_view zone, TimeWindow& out) {
  out.kind_ = Kind::day_of_week;
  const auto bits = parse_days(days);
  if (!bits) return "\"" + std::string(days) + "\" is not a day of week list: use *, mon,wed,fri or mon-fri";
  out.days_ = *bits;
  out.days_text_ = std::string(core::trim(days));
  if (!zone.empty()) {
    std::string error;
    out.zone_ = find_zone(zone, error);
    if (!out.zone_) return error;
    out.zone_name_ = std::string(zone);
  }
  return {};
}

std::string TimeWindow::make_time_of_day(std::string_view zone, std::optional<std::string_view> after,
                                         std::optional<std::string_view> before, TimeWindow& out) {
  out.kind_ = Kind::time_of_day;
  std::string error;
  out.zone_ = find_zone(zone, error);
  if (!out.zone_) return error;
  out.zone_name_ = std::string(zone);
  if (!after && !before) return "needs after, before or both (times such as 09:00 or 5:30 PM)";
  for (auto [text, slot, saved] : {std::tuple{after, &out.from_, &out.after_text_},
                                   std::tuple{before, &out.to_, &out.before_text_}}) {
    if (!text) continue;
    *slot = parse_clock_time(*text);
    if (!*slot) return "\"" + std::string(*text) + "\" is not a time of day such as 15:04, 15:04:05, 3:04 PM or 3PM";
    *saved = std::string(*text);
  }
  return {};
}

bool TimeWindow::matches(TimePoint now, bool* error) const noexcept {
  if (kind_ == Kind::date) {
    if (after_ && !(now > *after_)) return false;
    if (before_ && !(now < *before_)) return false;
    return true;
  }
  // Local time in the zone (UTC when none).
  auto local = chrono::floor<chrono::nanoseconds>(now.time_since_epoch());
  if (zone_) {
    try {
      local += zone_->get_info(chrono::time_point_cast<chrono::seconds>(now)).offset;
    } catch (...) {
      if (error) *error = true;
      return false;
    }
  }
  const auto day = chrono::floor<date::days>(local);
  if (kind_ == Kind::day_of_week) {
    const unsigned wd = date::weekday(date::sys_days(day)).c_encoding();  // 0 = Sunday
    return (days_ >> wd) & 1u;
  }
  const auto tod = local - day;
  // [after, before): a window whose after is later than its before runs over midnight.
  if (from_ && to_ && *from_ > *to_) return tod >= *from_ || tod < *to_;
  if (from_ && tod < *from_) return false;
  if (to_ && tod >= *to_) return false;
  return true;
}

std::string TimeWindow::describe() const {
  std::string out;
  auto part = [&](std::string_view op, const std::string& v) {
    if (v.empty()) return;
    if (!out.empty()) out += " and ";
    out += std::string(op) + " \"" + v + "\"";
  };
  switch (kind_) {
    case Kind::date:
      part("after", after_text_);
      part("before", before_text_);
      return out;
    case Kind::day_of_week: return "is \"" + days_text_ + "\" (" + zone_name_ + ")";
    case Kind::time_of_day:
      part("after", after_text_);
      part("before", before_text_);
      return out + " (" + zone_name_ + ")";
  }
  return out;
}

}  // namespace postern::authz
