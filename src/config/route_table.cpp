#include "config/route_table.h"

#include <re2/re2.h>

#include "core/strings.h"
#include "core/url.h"

namespace postern::config {
namespace {

std::unique_ptr<re2::RE2> compile(const std::string& pattern, bool anchor) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);
  auto re = std::make_unique<re2::RE2>(anchor ? "^(?:" + pattern + ")$" : pattern, options);
  return re->ok() ? std::move(re) : nullptr;  // the loader has already rejected invalid patterns
}

}  // namespace

CompiledRoute::CompiledRoute(RouteSettings settings, Duration default_timeout) : settings_(std::move(settings)) {
  if (!settings_.regex.empty()) path_regex_ = compile(settings_.regex, true);
  if (!settings_.regex_rewrite_pattern.empty()) rewrite_regex_ = compile(settings_.regex_rewrite_pattern, false);
  if (settings_.prefix_rewrite) {
    prefix_rewrite_ = settings_.prefix_rewrite;
  } else if (!settings_.to.empty() && !settings_.to.front().path.empty() && !rewrite_regex_) {
    prefix_rewrite_ = settings_.to.front().path;  // a path on the first `to` is an implicit prefix rewrite
  }
  // Pomerium turns timeouts off for websocket routes unless set explicitly.
  timeout_ = settings_.timeout.value_or(settings_.allow_websockets ? Duration{0} : default_timeout);
  idle_timeout_ = settings_.idle_timeout.value_or(settings_.allow_websockets ? Duration{0} : std::chrono::minutes(5));
}

CompiledRoute::~CompiledRoute() = default;
CompiledRoute::CompiledRoute(CompiledRoute&&) noexcept = default;
CompiledRoute& CompiledRoute::operator=(CompiledRoute&&) noexcept = default;

bool CompiledRoute::matches_host(std::string_view host, std::uint16_t port) const noexcept {
  if (settings_.from_port && *settings_.from_port != port) return false;
  const std::string& pattern = settings_.from_host;
  if (pattern.starts_with("*.")) {
    const std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  return host == pattern;
}

bool CompiledRoute::matches_path(std::string_view path) const noexcept {
  if (!settings_.path.empty()) return path == settings_.path;
  if (path_regex_) return re2::RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *path_regex_);
  if (!settings_.regex.empty()) return false;  // uncompilable pattern: match nothing (fail closed)
  if (!settings_.prefix.empty()) return path.starts_with(settings_.prefix);
  return true;
}

std::string CompiledRoute::rewrite_path(std::string_view path) const {
  if (rewrite_regex_) {
    std::string out(path);
    re2::RE2::GlobalReplace(&out, *rewrite_regex_, settings_.regex_rewrite_substitution);
    if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
    return out;
  }
  if (prefix_rewrite_) {
    // Replace the matched part: the prefix (or the whole path for `path`, nothing for regex routes).
    std::size_t matched = 0;
    if (!settings_.path.empty()) matched = path.size();
    else if (!settings_.prefix.empty()) matched = settings_.prefix.size();
    else if (settings_.regex.empty()) matched = 1;  // the default prefix "/"
    std::string out = *prefix_rewrite_ + std::string(path.substr(matched));
    if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
    return out;
  }
  return std::string(path);
}

RouteTable::RouteTable(const std::vector<RouteSettings>& routes, Duration default_timeout) {
  routes_.reserve(routes.size());
  for (const auto& r : routes) routes_.emplace_back(r, default_timeout);
}

RouteTable::Match RouteTable::match(std::string_view host, std::uint16_t port, std::string_view path) const noexcept {
  Match m;
  for (const auto& route : routes_) {
    if (route.settings().tcp || !route.matches_host(host, port)) continue;
    m.host_known = true;
    if (route.matches_path(path)) {
      m.route = &route;
      return m;
    }
  }
  return m;
}

const CompiledRoute* RouteTable::match_connect(std::string_view host, std::uint16_t port) const noexcept {
  for (const auto& route : routes_)
    if (route.settings().tcp && route.matches_host(host, port)) return &route;
  return nullptr;
}

std::optional<HostAndPort> parse_host_header(std::string_view value) { return core::parse_authority(core::trim(value)); }

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

std::optional<std::string> normalize_path(std::string_view path) {
  // A raw '\\' is '/' to many servers (IIS, Windows static servers) but one segment to us, so /public\\..\\admin would
  // be authorized as /public…; a '#' never belongs in a request target. Both are refused.
  if (path.find_first_of("\\#") != std::string_view::npos) return std::nullopt;
  // Percent-encoding first (RFC 3986 §6.2.2): unreserved characters decoded (so /%61dmin is /admin and %2e%2e is a
  // dot segment), other escapes kept with upper-case hex. An encoded '/' or '\' would name another path to the
  // upstream than the one routed and authorized: refused, as Pomerium's Envoy does.
  std::string decoded;
  if (path.find('%') != std::string_view::npos) {
    decoded.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (path[i] != '%') {
        decoded += path[i];
        continue;
      }
      if (i + 2 >= path.size()) return std::nullopt;
      const int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const auto c = static_cast<unsigned char>(hi * 16 + lo);
      if (c == '/' || c == '\\') return std::nullopt;
      if (unreserved(c)) {
        decoded += static_cast<char>(c);
      } else {
        static constexpr char digits[] = "0123456789ABCDEF";
        decoded += '%';
        decoded += digits[c >> 4];
        decoded += digits[c & 15];
      }
      i += 2;
    }
    path = decoded;
  }
  // Fast path: most paths are already normal.
  if (path.starts_with('/') && path.find("//") == std::string_view::npos && path.find("/.") == std::string_view::npos)
    return std::string(path);
  std::vector<std::string_view> segments;
  const bool trailing_slash = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
  std::size_t i = 0;
  while (i <= path.size()) {
    const auto next = path.find('/', i);
    const std::string_view seg = path.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (next == std::string_view::npos) break;
    i = next + 1;
  }
  std::string out;
  out.reserve(path.size() + 1);
  for (const auto& seg : segments) {
    out += '/';
    out += seg;
  }
  if (out.empty() || (trailing_slash && !segments.empty())) out += '/';
  return out;
}

}  // namespace postern::config
