#pragma once
// Facts of Okta's Management API that the directory sync builds on, as pure functions: where the API lives for a
// given issuer, how list pages link to each other (RFC 8288 `Link: <…>; rel="next"`), and which rate-limit bucket a
// path is counted in (okta.md §2–§3). No I/O here.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace postern::directory {

// The org's base URL from the identity provider URL: the Management API lives at the org, whatever authorization
// server signs the tokens ("https://corp.okta.com/oauth2/default" → "https://corp.okta.com").
[[nodiscard]] std::string org_url(std::string_view issuer);

// The rel="next" target among Link header values (separate header lines, or one comma-joined value); nullopt on the
// last page. Only a target on `origin` (scheme://host[:port]) is followed: a page must not send the API token to
// another host.
[[nodiscard]] std::optional<std::string> next_link(std::span<const std::string_view> link_values,
                                                   std::string_view origin);

// The rate-limit bucket a request path is counted in (Okta's per-endpoint buckets): "/api/v1/groups",
// "/api/v1/groups/{id}", "/api/v1/users", "/api/v1/users/{id}", "/api/v1/logs", "/oauth2/v1/token" or "/api/v1".
[[nodiscard]] std::string_view rate_limit_bucket(std::string_view path) noexcept;

}  // namespace postern::directory
