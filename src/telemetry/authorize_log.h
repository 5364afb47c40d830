#pragma once
// The authorize log: one JSON line per policy decision, `"msg":"authorize check"` as in Pomerium, written through
// the worker's access-log buffer (same writer thread, same stdout). The decision, the allow and deny sides, the
// reasons and the mode are always present; the rest is chosen with authorize_log_fields. Never a token, cookie or
// query string.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern::telemetry {

enum AuthorizeField : std::uint32_t {
  field_request_id = 1u << 0,
  field_method = 1u << 1,
  field_path = 1u << 2,
  field_host = 1u << 3,
  field_ip = 1u << 4,
  field_user = 1u << 5,
  field_email = 1u << 6,
  field_groups_count = 1u << 7,
  field_route_id = 1u << 8,
};
// The bits for authorize_log_fields names (unknown names are ignored; the loader refuses them).
[[nodiscard]] std::uint32_t authorize_fields(const std::vector<std::string>& names) noexcept;

// Pieces of one reason, joined as written. They must already be escaped for a JSON string (authz::Policy::explain
// with json = true): the line copies them without looking, which is what keeps a decision's line cheap.
using ReasonText = std::array<std::string_view, 8>;

struct AuthorizeRecord {
  std::uint32_t fields = 0;
  // method must be an HTTP token and host a validated Host (both are copied without escaping); the rest is escaped.
  std::string_view request_id, method, path, host, ip, user, email, route;
  std::size_t groups_count = 0;
  std::string_view decision;  // allow, deny, sign-in-required (Postern's words, copied as they are)
  std::string_view allow;     // true, false, unknown
  std::string_view deny;
  std::string_view mode;  // enforce, report
  std::span<const ReasonText> reasons;
};

// The most bytes format_authorize_line writes for `r`.
[[nodiscard]] std::size_t authorize_line_bound(const AuthorizeRecord& r) noexcept;
std::size_t format_authorize_line(const AuthorizeRecord& r, char* out) noexcept;
[[nodiscard]] std::string format_authorize_line(const AuthorizeRecord& r);

}  // namespace postern::telemetry
