#pragma once
// The settings model: plain typed values decoded from Pomerium-format YAML and environment variables. Nothing here
// knows YAML or sockets; `loader.h` builds these, `route_table.h` compiles the routes.
#include <chrono>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authz/legacy_rules.h"
#include "authz/policy.h"
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
  std::string scheme;  // "http", "https", "h2c" (cleartext HTTP/2, prior knowledge) or "tcp" (TCP routes)
  std::string host;    // name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string path;  // path part of the URL, "" when none
  std::uint32_t weight = 1;
  [[nodiscard]] bool tls() const noexcept { return scheme == "https"; }
  [[nodiscard]] bool h2c() const noexcept { return scheme == "h2c"; }
  // host[:port] as a Host header for this upstream (port omitted when it is the scheme's default).
  [[nodiscard]] std::string authority() const;
  std::string host_header;  // authority(), computed once by the loader (empty for targets made elsewhere)
};

// How a route spreads requests over its `to` targets and keeps dead ones out (Envoy's cluster options, Pomerium's
// route keys: lb_policy / load_balancing_policy, health_checks, outlier_detection, healthy_panic_threshold).
enum class LbPolicy : std::uint8_t { round_robin, least_request, random, ring_hash, maglev };
[[nodiscard]] std::string_view to_string(LbPolicy p) noexcept;

struct HealthCheckSettings {
  enum class Kind : std::uint8_t { http, tcp };
  Kind kind = Kind::http;
  Duration timeout{0};
  Duration interval{0};
  Duration initial_jitter{0};
  std::uint32_t unhealthy_threshold = 0;
  std::uint32_t healthy_threshold = 0;
  std::string path;  // http: the request path
  std::string host;  // http: the Host header ("" = the target's)
  // http: the statuses that mean healthy, as half-open ranges [first, second); default 200 only.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> expected_statuses{{200, 201}};
};

struct OutlierDetectionSettings {
  bool enabled = false;
  std::uint32_t consecutive_5xx = 5;              // 5xx answers and failed connections in a row
  std::uint32_t consecutive_gateway_failure = 5;  // 502, 503, 504 and failed connections in a row
  std::uint32_t enforcing_consecutive_5xx = 100;  // percent of detections acted on (0 or 100 here)
  std::uint32_t enforcing_consecutive_gateway_failure = 0;
  Duration interval = std::chrono::seconds(10);  // each one without an ejection shortens the next ejection
  Duration base_ejection_time = std::chrono::seconds(30);  // × the number of recent ejections
  Duration max_ejection_time = std::chrono::seconds(300);
  std::uint32_t max_ejection_percent = 10;  // at least one target may always be ejected
};

// The set_request_headers templates Postern fills (`${<name>}`); proxy/header_rewrite.h expands them.
namespace header_template {
inline constexpr std::string_view client_cert_fingerprint = "pomerium.client_cert_fingerprint";
inline constexpr std::string_view client_cert_san_dns = "pomerium.client_cert_san_dns";
inline constexpr std::string_view client_cert_san_email = "pomerium.client_cert_san_email";
}  // namespace header_template
inline constexpr std::string_view header_templates[] = {
    header_template::client_cert_fingerprint, header_template::client_cert_san_dns,
    header_template::client_cert_san_email};

struct UpstreamOptions {
  LbPolicy lb_policy = LbPolicy::round_robin;
  std::string hash_header;  // ring_hash / maglev: hash this request header when present (else the session id)
  std::uint32_t ring_minimum_size = 1024;
  std::uint32_t ring_maximum_size = 8 * 1024 * 1024;
  std::uint32_t maglev_table_size = 65537;  // prime
  std::vector<HealthCheckSettings> health_checks;
  OutlierDetectionSettings outlier;
  double healthy_panic_threshold = 50;  // percent; below it every target is used; 0 disables panic mode
};

struct RouteSettings {
  Location location;  // where the route starts
  std::size_t index = 0;
  std::string from;  // as written
  std::string from_scheme;
  bool tcp = false;  // from: tcp+https://host:port — a TCP tunnel asked for with CONNECT (to: tcp://host:port)
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
  std::string tls_client_cert_pem, tls_client_key_pem;  // presented to upstreams that ask for a certificate
  std::string tls_downstream_client_ca_pem;  // requests on this route need a client certificate from this CA
  UpstreamOptions upstream;
  std::optional<bool> pass_identity_headers;  // unset: the global setting
  // Authorization. `legacy` holds Pomerium's allow keys as written (sub_policies folded in); `policy` is what
  // decides: those keys lowered onto the policy language, then the route's `policy:` rules, compiled. Never null
  // once loaded; a policy without rules denies everyone.
  authz::LegacyKeys legacy;
  std::shared_ptr<const authz::Policy> policy;
  // policy_mode: report (Postern's shadow mode): `policy` (the legacy keys alone) decides, while `report_policy`
  // (legacy keys + policy:, exactly what enforce mode would run) is evaluated and logged.
  std::shared_ptr<const authz::Policy> report_policy;
  bool show_error_details = false;  // the deny page says which rule denied
  // The routes portal (/.pomerium/routes): how the route is shown to users.
  std::string name, description, logo_url;
  // True when the policy may ask who the user is (so the session must be looked up).
  [[nodiscard]] bool needs_session() const noexcept {
    return (policy && policy->uses_user()) || (report_policy && report_policy->uses_user());
  }
};

// An absolute URL split into the parts we compare and build with.
struct ServiceUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case
  std::optional<std::uint16_t> port;
  std::string path;  // without trailing slash; "" for the root
  [[nodiscard]] bool empty() const noexcept { return host.empty(); }
  // scheme://host[:port] (port omitted when absent).
  [[nodiscard]] std::string origin() const;
  [[nodiscard]] std::uint16_t effective_port() const noexcept { return port.value_or(scheme == "https" ? 443 : 80); }
  // A request for `request_host`:`request_port` is for this URL's host: the same host, on its port when it names one.
  [[nodiscard]] bool serves(std::string_view request_host, std::uint16_t request_port) const noexcept {
    return !empty() && request_host == host && (!port || *port == request_port);
  }
};

struct IdentityProviderSettings {
  std::string provider;  // "okta" or "oidc"; "" = sign-in not configured
  ServiceUrl url;        // the issuer
  std::string url_text;  // as written: discovery's issuer must equal it byte for byte (ignoring a trailing slash)
  std::string client_id;
  std::string client_secret;
  std::vector<std::string> scopes{"openid", "profile", "email", "offline_access"};
  HeaderList request_params;  // extra authorization-request parameters
  [[nodiscard]] bool configured() const noexcept { return !provider.empty(); }
};

// The Okta directory (idp_service_account and its refresh settings). Read and checked at load; the sync that uses
// them is being built (issue 10), so today they are accepted with a "not supported yet" warning.
struct DirectorySettings {
  enum class Credential { none, api_token, oauth_app };
  Credential credential = Credential::none;
  std::string api_key;      // SSWS token ({"api_key": …}, Pomerium's form)
  std::string client_id;    // OAuth 2.0 service app ({"client_id", "private_key", "key_id"})
  std::string private_key;  // PEM, or a JWK as JSON text
  std::string key_id;
  Duration refresh_interval = std::chrono::minutes(10);  // idp_refresh_directory_interval
  Duration refresh_timeout = std::chrono::minutes(1);    // idp_refresh_directory_timeout
  // idp_directory_rate_limit_reserve: the share of each Okta rate-limit bucket left to the org's other clients.
  double rate_limit_reserve = 0.5;
  [[nodiscard]] bool configured() const noexcept { return credential != Credential::none; }
};

// Client certificates (downstream_mtls; the older client_ca / client_crl keys map onto it).
struct DownstreamMtlsSettings {
  enum class Enforcement : std::uint8_t { policy_with_default_deny, policy, reject_connection };
  std::string ca_pem;   // "" = no client certificates asked for (unless a route names its own CA)
  std::string crl_pem;  // revocation lists, PEM
  Enforcement enforcement = Enforcement::policy_with_default_deny;
  // Each entry: a SAN type (dns, email, ip_address, uri, user_principal_name) and an anchored RE2 pattern; a
  // certificate is valid only when one of its SANs of that type matches one entry.
  std::vector<std::pair<std::string, std::string>> match_subject_alt_names;
  std::uint32_t max_verify_depth = 1;  // Pomerium's count: 1 = issued directly by a CA in the bundle; 0 = no limit
  [[nodiscard]] bool configured() const noexcept { return !ca_pem.empty(); }
};
[[nodiscard]] std::string_view to_string(DownstreamMtlsSettings::Enforcement e) noexcept;

// Where sessions, one-time markers and leases live (databroker_storage_*, Pomerium's keys).
struct StoreSettings {
  enum class Type { memory, postgres };
  Type type = Type::memory;
  std::string connection_string;  // libpq: a postgresql:// URL or key=value pairs; a secret (holds the password)
};

// metrics_address and its protection (Pomerium's keys).
struct MetricsSettings {
  std::optional<ListenAddress> address;  // unset: no metrics listener
  std::string basic_auth;                // metrics_basic_auth decoded: "user:password" ("" = none); a secret
  std::string certificate_pem, key_pem;  // metrics_certificate(_file) + metrics_certificate_key(_file): serve https
  std::string client_ca_pem;             // metrics_client_ca(_file): scrapers must present a certificate from it
};

// health_check_addr: /healthz, /readyz, /startupz (Pomerium v0.31+), and systemd's notify protocol.
struct HealthSettings {
  std::optional<ListenAddress> address{ListenAddress{"127.0.0.1", 28080}};
  bool address_configured = false;  // the default address may be taken (another Postern): then only a warning
  bool systemd_disabled = false;    // health_check_systemd_disabled
};

// OpenTelemetry traces over OTLP/HTTP (the otel_* keys of current Pomerium).
struct TracingSettings {
  bool enabled = false;      // otel_traces_exporter: otlp
  std::string endpoint;      // the full traces URL (otel_exporter_otlp_traces_endpoint, else <endpoint>/v1/traces)
  HeaderList headers;        // otel_exporter_otlp_headers (may hold credentials: never logged)
  Duration timeout = std::chrono::seconds(10);  // otel_exporter_otlp_timeout
  double sample_ratio = 1.0;  // otel_traces_sampler_arg (a parent's sampled flag wins)
};

// Names authorize_log_fields accepts (Pomerium's where it has one; groups-count is Postern's).
inline constexpr std::string_view authorize_log_field_names[] = {
    "request-id", "check-request-id", "method", "path", "host", "ip", "user", "email", "groups-count", "route-id"};

struct Settings {
  std::string config_file;  // "" when configured from the environment only
  // Every file the configuration was read from: the config file first, then each `*_file` it names (hot reload
  // watches them).
  std::vector<std::string> files;
  ListenAddress address{"0.0.0.0", 443};
  std::optional<ListenAddress> http_redirect_address;  // http_redirect_addr: plain http answered with 301 to https
  bool insecure_server = false;
  std::vector<CertificatePair> certificates;
  DownstreamMtlsSettings downstream_mtls;
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
  MetricsSettings metrics;
  HealthSettings health;
  TracingSettings tracing;

  // Sign-in.
  ServiceUrl authenticate_service_url;
  // forward_auth_url (Pomerium ≤ v0.20): the host on which /verify answers nginx auth_request, Traefik and Caddy.
  ServiceUrl forward_auth_url;
  IdentityProviderSettings idp;
  DirectorySettings directory;
  StoreSettings store;
  // runtime_flags (Pomerium's): the ones Postern reads.
  struct RuntimeFlags {
    bool pomerium_jwt_endpoint = false;  // /.pomerium/jwt answers the identity assertion itself
    bool routes_portal = true;           // /.pomerium/routes and /.pomerium/api/v1/routes
  } runtime_flags;
  std::string shared_secret;  // 32 raw bytes
  std::string cookie_secret;  // 32 raw bytes
  bool secrets_generated = false;  // true when either secret was absent and made up for this process
  std::string cookie_name = "_pomerium";
  std::string authenticate_cookie_name = "_pomerium_authenticate";  // cookie_name + "_authenticate"
  std::string csrf_cookie_name = "_pomerium_csrf";                  // cookie_name + "_csrf"
  std::string cookie_domain;
  Duration cookie_expire = std::chrono::hours(14);
  bool cookie_http_only = true;
  bool cookie_secure = true;  // applied only on https: a Secure cookie is never sent back over plain http
  std::string cookie_same_site = "lax";  // "strict", "lax", "none" or "" (no attribute)
  std::string signing_key_pem;           // ES256 (P-256) key; empty = derived from shared_secret
  HeaderList jwt_claims_headers;         // header name -> claim name
  bool pass_identity_headers = false;
  std::string signout_redirect_url;
  std::vector<std::string> programmatic_redirect_domain_whitelist{"localhost"};
  // The selectable fields of the `authorize check` log line (the decision, its reasons and the mode are always there).
  std::vector<std::string> authorize_log_fields{"request-id", "method", "path", "host", "ip",
                                                "user", "email", "groups-count", "route-id"};

  // Non-fatal findings (unknown keys, keys not supported yet), each a complete sentence with its location.
  std::vector<std::string> warnings;
};

}  // namespace postern::config
