#pragma once
// The settings model: plain typed values decoded from Pomerium-format YAML and environment variables. Nothing here
// knows YAML or sockets; `loader.h` builds these, `route_table.h` compiles the routes.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config_error.h"
#include "core/duration.h"

namespace postern::config {

using core::Duration;
using HeaderList = std::vector<std::pair<std::string, std::string>>;  // ordered, names as written

struct ListenAddress {
  std::string host;  // IP literal; "0.0.0.0" for all interfaces
  std::uint16_t port = 443;
  [[nodiscard]] std::string to_string() const;
};

struct CertificatePair {
  std::string cert_pem;
  std::string key_pem;
  std::string origin;  // key or file it came from, for messages
};

// One `to` entry: an absolute http(s) URL with an optional weight.
struct UpstreamTarget {
  std::string url;     // as written, without the weight
  std::string scheme;  // "http" or "https"
  std::string host;    // name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string path;  // path part of the URL, "" when none
  std::uint32_t weight = 1;
  [[nodiscard]] bool tls() const noexcept { return scheme == "https"; }
  // host[:port] as a Host header for this upstream (port omitted when it is the scheme's default).
  [[nodiscard]] std::string authority() const;
};

struct RouteSettings {
  Location location;  // where the route starts
  std::size_t index = 0;
  std::string from;  // as written
  std::string from_scheme;
  std::string from_host;  // lower case; may start with "*."
  std::optional<std::uint16_t> from_port;
  std::vector<UpstreamTarget> to;
  std::string prefix;  // empty = not set
  std::string path;
  std::string regex;
  std::optional<std::string> prefix_rewrite;
  std::string regex_rewrite_pattern;
  std::string regex_rewrite_substitution;
  bool preserve_host_header = false;
  std::string host_rewrite;
  HeaderList set_request_headers;
  std::vector<std::string> remove_request_headers;
  HeaderList set_response_headers;
  std::optional<Duration> timeout;
  std::optional<Duration> idle_timeout;
  bool allow_websockets = false;
  bool tls_skip_verify = false;
  std::string tls_server_name;
  std::string tls_custom_ca_pem;  // extra roots, PEM
  bool allow_public_unauthenticated_access = false;
};

struct Settings {
  std::string config_file;  // "" when configured from the environment only
  ListenAddress address{"0.0.0.0", 443};
  bool insecure_server = false;
  std::vector<CertificatePair> certificates;
  Duration timeout_read = std::chrono::seconds(30);
  Duration timeout_write{0};
  Duration timeout_idle = std::chrono::minutes(5);
  Duration default_upstream_timeout = std::chrono::seconds(30);
  std::string log_level = "info";
  // Headers added to every response. Holds Pomerium's defaults unless configured; HSTS only with a static certificate.
  HeaderList set_response_headers;
  std::uint32_t xff_num_trusted_hops = 0;
  bool skip_xff_append = false;
  std::vector<RouteSettings> routes;
  // Non-fatal findings (unknown keys, keys not supported yet), each a complete sentence with its location.
  std::vector<std::string> warnings;
};

}  // namespace postern::config
