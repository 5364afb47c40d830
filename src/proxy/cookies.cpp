#include "proxy/cookies.h"

#include <algorithm>
#include <vector>

#include "core/strings.h"

namespace postern::proxy {
namespace http = boost::beast::http;

std::optional<std::string_view> find_cookie(const Fields& fields, std::string_view name) {
  std::optional<std::string_view> found;
  for_each_cookie(fields, [&](std::string_view n, std::string_view v) {
    if (n != name) return true;
    found = v;
    return false;
  });
  return found;
}

std::string set_cookie(const CookieSpec& spec, const config::Settings& settings) {
  std::string out;
  out.reserve(spec.value.size() + 128);
  out += spec.name;
  out += '=';
  out += spec.value;
  out += "; Path=/";
  if (!spec.domain.empty()) {
    out += "; Domain=";
    out += spec.domain;
  }
  if (spec.value.empty()) {
    out += "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
  } else if (spec.max_age.count() > 0) {
    out += "; Max-Age=" + std::to_string(spec.max_age.count());
  }
  if (settings.cookie_http_only) out += "; HttpOnly";
  if (spec.secure) out += "; Secure";
  if (settings.cookie_same_site == "strict") out += "; SameSite=Strict";
  else if (settings.cookie_same_site == "lax") out += "; SameSite=Lax";
  else if (settings.cookie_same_site == "none" && spec.secure) out += "; SameSite=None";
  return out;
}

void remove_cookies(Fields& fields, std::initializer_list<std::string_view> names, std::string_view prefix) {
  const auto removed = [&](std::string_view pair) {
    const std::string_view name = core::trim(pair.substr(0, pair.find('=')));
    return std::find(names.begin(), names.end(), name) != names.end() || (!prefix.empty() && name.starts_with(prefix));
  };
  // A first look, without copying: nothing to remove (most requests), or nothing to keep (a request that carries
  // only Postern's session cookie) needs no rebuilt header.
  bool any_removed = false, any_kept = false;
  for (auto it = fields.find(http::field::cookie); it != fields.end() && it->name() == http::field::cookie; ++it) {
    for_each_cookie_pair(it->value(), [&](std::string_view pair) {
      (removed(pair) ? any_removed : any_kept) = true;
      return true;
    });
  }
  if (!any_removed) return;
  std::vector<std::string> kept_headers;
  if (any_kept) {
    for (auto it = fields.find(http::field::cookie); it != fields.end() && it->name() == http::field::cookie; ++it) {
      std::string kept;
      for_each_cookie_pair(it->value(), [&](std::string_view pair) {
        if (removed(pair)) return true;
        if (!kept.empty()) kept += "; ";
        kept += pair;
        return true;
      });
      kept_headers.push_back(std::move(kept));
    }
  }
  fields.erase(http::field::cookie);
  for (auto& h : kept_headers)
    if (!h.empty()) fields.insert(http::field::cookie, h);
}

}  // namespace postern::proxy
