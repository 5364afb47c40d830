#include "config/known_keys.h"

#include <algorithm>

namespace postern::config {
namespace {

constexpr std::string_view implemented_global[] = {
    "address", "insecure_server", "certificate_file", "certificate_key_file", "certificate", "certificate_key",
    "certificates", "timeout_read", "timeout_write", "timeout_idle", "default_upstream_timeout", "log_level",
    "set_response_headers", "xff_num_trusted_hops", "skip_xff_append", "routes", "policy",
    "authenticate_service_url", "idp_provider", "idp_provider_url", "idp_client_id", "idp_client_secret",
    "idp_client_secret_file", "idp_scopes", "idp_request_params", "shared_secret", "shared_secret_file",
    "cookie_secret", "cookie_secret_file", "cookie_name", "cookie_domain", "cookie_expire", "cookie_http_only",
    "cookie_secure", "cookie_same_site", "signing_key", "signing_key_file", "jwt_claims_headers",
    "signout_redirect_url", "programmatic_redirect_domain_whitelist", "authorize_log_fields", "pass_identity_headers",
    "idp_service_account", "idp_refresh_directory_interval", "idp_refresh_directory_timeout",
    "idp_directory_rate_limit_reserve", "databroker_storage_type", "databroker_storage_connection_string",
    "databroker_storage_connection_string_file", "runtime_flags", "http_redirect_addr", "forward_auth_url",
    "downstream_mtls", "client_ca", "client_ca_file", "client_crl", "client_crl_file", "metrics_address",
    "metrics_basic_auth", "metrics_certificate", "metrics_certificate_key", "metrics_certificate_file",
    "metrics_certificate_key_file", "metrics_client_ca", "metrics_client_ca_file", "health_check_addr",
    "health_check_systemd_disabled", "otel_traces_exporter", "otel_exporter_otlp_endpoint",
    "otel_exporter_otlp_traces_endpoint", "otel_exporter_otlp_protocol", "otel_exporter_otlp_headers",
    "otel_exporter_otlp_timeout", "otel_traces_sampler_arg"};

// Pomerium settings (v0.19 through HEAD) that Postern does not implement yet.
constexpr std::string_view pending_global[] = {
    "services", "authenticate_internal_service_url", "authenticate_callback_path",
    "idp_qps", "idp_access_token_allowed_audiences", "identity_providers", "signing_key_algorithm", "jwt_issuer_format", "jwt_groups_filter",
    "bearer_token_format", "grpc_client_timeout",
    "grpc_address", "grpc_insecure", "authorize_service_url", "authorize_service_urls",
    "authorize_internal_service_url", "databroker_service_url", "databroker_service_urls",
    "databroker_internal_service_url", "databroker_storage_cert_file", "databroker_storage_key_file",
    "databroker_storage_ca_file", "databroker_storage_tls_skip_verify", "certificate_authority",
    "certificate_authority_file", "override_certificate_name", "tls_derive", "autocert",
    "autocert_ca", "autocert_email", "autocert_use_staging", "autocert_eab_key_id", "autocert_eab_mac_key",
    "autocert_must_staple", "autocert_dir", "autocert_trusted_ca", "autocert_trusted_ca_file", "use_proxy_protocol", "codec_type",
    "merge_slashes", "normalize_path", "path_with_escaped_slashes_action", "headers_with_underscores_action",
    "allow_upgrades", "dns_lookup_family", "dns_refresh_rate", "dns_failure_refresh_rate", "dns_query_timeout",
    "dns_query_tries", "dns_udp_max_queries", "dns_use_tcp", "dns_resolvers", "circuit_breaker_thresholds",
    "proxy_log_level", "access_log_fields", "debug_address", "installation_id", "tracing_provider", "tracing_sample_rate",
    "tracing_jaeger_collector_endpoint", "tracing_jaeger_agent_endpoint", "tracing_zipkin_endpoint",
    "tracing_datadog_address", "google_cloud_serverless_authentication_service_account",
    "envoy_admin_address", "envoy_admin_access_log_path", "envoy_admin_profile_path",
    "envoy_bind_config_source_address", "envoy_bind_config_freebind",
    "grpc_client_dns_roundrobin", "pomerium_debug", "headers", "jwt_claims_headers_file"};

constexpr std::string_view implemented_route[] = {
    "from", "to", "prefix", "path", "regex", "prefix_rewrite", "regex_rewrite_pattern", "regex_rewrite_substitution",
    "preserve_host_header", "host_rewrite", "set_request_headers", "remove_request_headers", "set_response_headers",
    "timeout", "idle_timeout", "allow_websockets", "tls_skip_verify", "tls_server_name", "tls_custom_ca",
    "tls_custom_ca_file", "allow_public_unauthenticated_access", "allowed_users", "allowed_domains",
    "allow_any_authenticated_user", "pass_identity_headers", "allowed_groups", "allowed_idp_claims",
    "cors_allow_preflight", "policy", "sub_policies", "show_error_details", "name", "description", "logo_url",
    "policy_mode",  // Postern's own (shadow mode)
    "tls_upstream_server_name", "tls_client_cert", "tls_client_key", "tls_client_cert_file", "tls_client_key_file",
    "tls_downstream_client_ca", "tls_downstream_client_ca_file"};

constexpr std::string_view pending_route[] = {
    "id", "redirect", "response", "regex_priority_order", "host_rewrite_header",
    "host_path_regex_rewrite_pattern", "host_path_regex_rewrite_substitution", "allow_spdy", "allow_upgrades", "rewrite_response_headers",
    "set_authorization_header", "tls_upstream_allow_renegotiation", "tls_downstream_server_name",
    "kubernetes_service_account_token",
    "kubernetes_service_account_token_file", "enable_google_cloud_serverless_authentication", "idp_client_id",
    "idp_client_secret", "idp_access_token_allowed_audiences", "identity_providers",
    "depends_on", "jwt_issuer_format", "bearer_token_format", "jwt_groups_filter", "circuit_breaker_thresholds",
    "mcp", "upstream_tunnel"};

template <typename Range>
bool contains(const Range& range, std::string_view key) {
  return std::find(std::begin(range), std::end(range), key) != std::end(range);
}

}  // namespace

KeyStatus global_key_status(std::string_view key) noexcept {
  if (contains(implemented_global, key)) return KeyStatus::implemented;
  if (contains(pending_global, key)) return KeyStatus::not_supported_yet;
  return KeyStatus::unknown;
}

KeyStatus route_key_status(std::string_view key) noexcept {
  if (contains(implemented_route, key)) return KeyStatus::implemented;
  if (contains(pending_route, key)) return KeyStatus::not_supported_yet;
  return KeyStatus::unknown;
}

const std::string_view* pending_global_keys(std::size_t& count) noexcept {
  count = std::size(pending_global);
  return pending_global;
}

}  // namespace postern::config
