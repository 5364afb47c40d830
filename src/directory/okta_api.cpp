#include "directory/okta_api.h"

#include "core/strings.h"
#include "core/url.h"

namespace postern::directory {

std::string org_url(std::string_view issuer) {
  const auto u = core::parse_http_url(issuer);
  if (!u) return {};
  return u->origin();
}

std::optional<std::string> next_link(std::span<const std::string_view> link_values, std::string_view origin) {
  for (const auto value : link_values) {
    // One value may hold several links: <url>; rel="next", <url>; rel="self"
    std::size_t i = 0;
    while (i < value.size()) {
      const auto open = value.find('<', i);
      if (open == std::string_view::npos) break;
      const auto close = value.find('>', open);
      if (close == std::string_view::npos) break;
      const std::string_view target = value.substr(open + 1, close - open - 1);
      const auto next_open = value.find('<', close);
      const std::string_view params = value.substr(close + 1, next_open == std::string_view::npos
                                                                  ? std::string_view::npos
                                                                  : next_open - close - 1);
      i = next_open == std::string_view::npos ? value.size() : next_open;
      // rel="next" or rel=next, among ;-separated parameters.
      std::size_t p = 0;
      bool is_next = false;
      while (p < params.size()) {
        const auto semi = params.find(';', p);
        std::string_view param = core::trim(params.substr(p, semi == std::string_view::npos ? std::string_view::npos
                                                                                              : semi - p));
        p = semi == std::string_view::npos ? params.size() : semi + 1;
        if (param.ends_with(',')) param = core::trim(param.substr(0, param.size() - 1));
        const auto eq = param.find('=');
        if (eq == std::string_view::npos || !core::iequals(core::trim(param.substr(0, eq)), "rel")) continue;
        std::string_view rel = core::trim(param.substr(eq + 1));
        if (rel.size() >= 2 && rel.front() == '"' && rel.back() == '"') rel = rel.substr(1, rel.size() - 2);
        for (std::size_t s = 0; s <= rel.size();) {  // rel may list several types: rel="next last"
          const auto sp = rel.find(' ', s);
          if (core::iequals(rel.substr(s, sp == std::string_view::npos ? std::string_view::npos : sp - s), "next"))
            is_next = true;
          if (sp == std::string_view::npos) break;
          s = sp + 1;
        }
      }
      if (!is_next) continue;
      const auto u = core::parse_http_url(target);
      if (!u || u->origin() != origin) return std::nullopt;  // never follow a page off the org
      return std::string(target);
    }
  }
  return std::nullopt;
}

std::string_view rate_limit_bucket(std::string_view path) noexcept {
  path = path.substr(0, path.find('?'));
  if (path.ends_with('/')) path.remove_suffix(1);
  auto under = [&](std::string_view prefix) -> std::string_view {
    if (!path.starts_with(prefix)) return {};
    return path.substr(prefix.size());
  };
  if (path == "/api/v1/groups") return "/api/v1/groups";
  if (under("/api/v1/groups/").data()) return "/api/v1/groups/{id}";
  if (path == "/api/v1/users") return "/api/v1/users";
  if (const auto rest = under("/api/v1/users/"); rest.data() && rest.find('/') == std::string_view::npos)
    return "/api/v1/users/{id}";
  if (path == "/api/v1/logs") return "/api/v1/logs";
  if (path == "/oauth2/v1/token") return "/oauth2/v1/token";
  return "/api/v1";
}

}  // namespace postern::directory
