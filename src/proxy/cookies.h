#pragma once
// Reading the Cookie header and writing Set-Cookie, with the attributes Pomerium's settings ask for.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/http_types.h"

#include "config/settings.h"

namespace postern::proxy {

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

// Removes cookies named `names` from the Cookie header(s), keeping the others in order.
void remove_cookies(Fields& fields, std::initializer_list<std::string_view> names);

}  // namespace postern::proxy
