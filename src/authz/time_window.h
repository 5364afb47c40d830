#pragma once
// The time criteria of Pomerium's policy language (documented for its Enterprise edition): `date` (after / before an
// ISO-8601 instant), `day_of_week` ("*", "mon,wed", "mon-fri", full names too) and `time_of_day` (after / before a
// clock time in an IANA time zone). Zones come from the system's tz database (Debian's tzdata) through Howard
// Hinnant's date library; everything is parsed and the zone loaded at config load, so matching allocates nothing.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace postern::authz {

using TimePoint = std::chrono::system_clock::time_point;

class TimeWindow {
 public:
  enum class Kind : std::uint8_t { date, day_of_week, time_of_day };
  // Each returns an error sentence, or "" when the value was taken.
  [[nodiscard]] static std::string make_date(std::optional<std::string_view> after,
                                             std::optional<std::string_view> before, TimeWindow& out);
  [[nodiscard]] static std::string make_days(std::string_view days, std::string_view zone, TimeWindow& out);
  [[nodiscard]] static std::string make_time_of_day(std::string_view zone, std::optional<std::string_view> after,
                                                    std::optional<std::string_view> before, TimeWindow& out);

  // `error` (when given) is set when the zone could not convert `now`; the result is then false.
  [[nodiscard]] bool matches(TimePoint now, bool* error = nullptr) const noexcept;
  [[nodiscard]] std::string describe() const;
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_ = Kind::date;
  std::optional<TimePoint> after_, before_;          // date
  std::uint8_t days_ = 0;                             // day_of_week: bit 0 = Sunday … bit 6 = Saturday
  std::optional<std::chrono::nanoseconds> from_, to_;  // time_of_day, since local midnight
  const date::time_zone* zone_ = nullptr;              // null: UTC
  std::string zone_name_ = "UTC";
  std::string after_text_, before_text_, days_text_;   // as written, for describe()
};

// "2026-03-01", "2026-03-01T09:30", "2026-03-01T09:30:00.5Z", "2026-03-01 09:30:00+01:00" (no offset = UTC).
[[nodiscard]] std::optional<TimePoint> parse_iso8601(std::string_view text) noexcept;
// "15:04", "15:04:05", "15:04:05.999999999", "3:04 PM", "3:04PM", "3 PM", "3PM" → time since midnight.
[[nodiscard]] std::optional<std::chrono::nanoseconds> parse_clock_time(std::string_view text) noexcept;
// "*", "mon,wed,fri", "mon-fri", "Monday", "fri-mon" (wraps) → bit set, bit 0 = Sunday.
[[nodiscard]] std::optional<std::uint8_t> parse_days(std::string_view text) noexcept;

}  // namespace postern::authz
