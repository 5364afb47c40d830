#pragma once
// A strict parser for the absolute http(s) URLs that arrive from outside and decide where a browser is sent
// (redirect targets). Deliberately narrow: no user info, no backslashes, no whitespace or control characters, a
// host of letters, digits, '-', '.', '_' (or a bracketed IPv6 literal), an optional decimal port. Anything else is
// rejected, so what we check is exactly what a browser will visit. (Boost.URL 1.81 reads the host of
// "http://127.0.0.1.evil.example/" as 127.0.0.1; this parser does not.)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

struct HttpUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // lower case, IPv6 without brackets
  std::uint16_t port = 0;  // explicit or the scheme's default
  bool explicit_port = false;
  std::string rest;  // path, query and fragment as written ("" or starting with '/', '?' or '#')
  // scheme://host[:port] as a browser's origin (default port omitted).
  [[nodiscard]] std::string origin() const;
};

[[nodiscard]] std::optional<HttpUrl> parse_http_url(std::string_view text);

// application/x-www-form-urlencoded / query component encoding of one value (every byte but A-Z a-z 0-9 - . _ ~).
[[nodiscard]] std::string form_encode(std::string_view value);

// host[:port] as in a URL or a Host header, with the same rules; the host comes back lower case.
struct Authority {
  std::string host;
  std::optional<std::uint16_t> port;
};
[[nodiscard]] std::optional<Authority> parse_authority(std::string_view authority);

}  // namespace postern::core
