#pragma once
// Reading the Cookie header and writing Set-Cookie, with the attributes Pomerium's settings ask for.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/http_types.h"

#include "config/settings.h"
#include "core/strings.h"

namespace postern::proxy {

// Calls fn(pair) for each non-empty "name=value" piece of one Cookie header value (trimmed), in order, until fn
// returns false; returns false when fn did.
template <class Fn>
bool for_each_cookie_pair(std::string_view header_value, Fn&& fn) {
  std::string_view rest = header_value;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    const std::string_view pair = core::trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    if (!pair.empty() && !fn(pair)) return false;
  }
  return true;
}

// Calls fn(name, value) for each cookie in the request's Cookie header(s), in order, until fn returns false.
template <class Fn>
void for_each_cookie(const Fields& fields, Fn&& fn) {
  namespace http = boost::beast::http;
  for (auto it = fields.find(http::field::cookie); it != fields.end() && it->name() == http::field::cookie; ++it) {
    const bool go_on = for_each_cookie_pair(it->value(), [&fn](std::string_view pair) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) return true;
      std::string_view value = core::trim(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return static_cast<bool>(fn(core::trim(pair.substr(0, eq)), value));
    });
    if (!go_on) return;
  }
}

// The value of cookie `name` in the request's Cookie header(s); nullopt when absent.
[[nodiscard]] std::optional<std::string_view> find_cookie(const Fields& fields,
                                                          std::string_view name);

struct CookieSpec {
  std::string_view name;
  std::string_view value;
  std::chrono::seconds max_age{0};  // 0 with an empty value: delete
  bool secure = false;              // only meaningful over https
  std::string_view domain;          // "" = host-only
};

// A Set-Cookie value with Path=/, HttpOnly / SameSite per settings.
[[nodiscard]] std::string set_cookie(const CookieSpec& spec, const config::Settings& settings);

// Removes cookies named `names`, or whose name starts with `prefix` (when not empty), from the Cookie header(s),
// keeping the others in order.
void remove_cookies(Fields& fields, std::initializer_list<std::string_view> names, std::string_view prefix = {});

}  // namespace postern::proxy
