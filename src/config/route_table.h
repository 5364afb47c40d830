#pragma once
// The compiled route table: every route's host, path and rewrite rules turned into matchers once, at load time.
// Immutable after construction; shared by all workers through a Snapshot.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"
#include "core/url.h"

namespace re2 {
class RE2;
}

namespace postern::config {

class CompiledRoute {
 public:
  explicit CompiledRoute(RouteSettings settings, Duration default_timeout);
  ~CompiledRoute();
  CompiledRoute(CompiledRoute&&) noexcept;
  CompiledRoute& operator=(CompiledRoute&&) noexcept;

  [[nodiscard]] const RouteSettings& settings() const noexcept { return settings_; }
  // `host` lower case without port; `port` the request's port (explicit or the listener scheme's default).
  [[nodiscard]] bool matches_host(std::string_view host, std::uint16_t port) const noexcept;
  [[nodiscard]] bool matches_path(std::string_view path) const noexcept;
  // The path to send upstream after prefix or regex rewriting (`path` excludes the query).
  [[nodiscard]] std::string rewrite_path(std::string_view path) const;
  [[nodiscard]] bool has_upstream() const noexcept { return !settings_.to.empty(); }
  // Route timeout (0 = none) and per-read idle timeout for the upstream exchange.
  [[nodiscard]] Duration timeout() const noexcept { return timeout_; }
  [[nodiscard]] Duration idle_timeout() const noexcept { return idle_timeout_; }

 private:
  RouteSettings settings_;
  std::unique_ptr<re2::RE2> path_regex_;
  std::unique_ptr<re2::RE2> rewrite_regex_;
  std::optional<std::string> prefix_rewrite_;
  Duration timeout_{0};
  Duration idle_timeout_{0};
};

class RouteTable {
 public:
  RouteTable() = default;
  explicit RouteTable(const std::vector<RouteSettings>& routes, Duration default_timeout);

  struct Match {
    const CompiledRoute* route = nullptr;  // null: no route
    bool host_known = false;               // some route serves this host (so a miss is a path miss)
  };
  // HTTP routes only (TCP routes never match a request for a path).
  [[nodiscard]] Match match(std::string_view host, std::uint16_t port, std::string_view path) const noexcept;
  // The TCP route (from: tcp+https://host:port) a `CONNECT host:port` asks for, or null.
  [[nodiscard]] const CompiledRoute* match_connect(std::string_view host, std::uint16_t port) const noexcept;
  [[nodiscard]] const std::vector<CompiledRoute>& routes() const noexcept { return routes_; }

 private:
  std::vector<CompiledRoute> routes_;
};

// Splits a Host header into lower-case host and optional port; nullopt when it is not a valid authority.
using HostAndPort = core::Authority;
[[nodiscard]] std::optional<HostAndPort> parse_host_header(std::string_view value);

// The path routing, policy and the upstream see: unreserved characters percent-decoded (other escapes in upper-case
// hex), dot segments removed (RFC 3986 §5.2.4) and repeated slashes merged; the result always starts with '/'.
// nullopt when the path must be refused with 400: an encoded '/' or '\\' (%2F, %5C), a raw '\\' or '#', or a
// malformed escape.
[[nodiscard]] std::optional<std::string> normalize_path(std::string_view path);

}  // namespace postern::config
