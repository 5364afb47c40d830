#include "app/restart_settings.h"

namespace postern::app {
namespace {

bool same(const config::ListenAddress& a, const config::ListenAddress& b) { return a.host == b.host && a.port == b.port; }

bool same(const std::optional<config::ListenAddress>& a, const std::optional<config::ListenAddress>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

bool same(const config::ServiceUrl& a, const config::ServiceUrl& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.path == b.path;
}

bool same(const config::IdentityProviderSettings& a, const config::IdentityProviderSettings& b) {
  return a.provider == b.provider && a.url_text == b.url_text && a.client_id == b.client_id &&
         a.client_secret == b.client_secret && a.scopes == b.scopes && a.request_params == b.request_params;
}

bool same(const config::DirectorySettings& a, const config::DirectorySettings& b) {
  return a.credential == b.credential && a.api_key == b.api_key && a.client_id == b.client_id &&
         a.private_key == b.private_key && a.key_id == b.key_id && a.refresh_interval == b.refresh_interval &&
         a.refresh_timeout == b.refresh_timeout && a.rate_limit_reserve == b.rate_limit_reserve;
}

bool same(const config::MetricsSettings& a, const config::MetricsSettings& b) {
  return same(a.address, b.address) && a.basic_auth == b.basic_auth && a.certificate_pem == b.certificate_pem &&
         a.key_pem == b.key_pem && a.client_ca_pem == b.client_ca_pem;
}

bool same(const config::HealthSettings& a, const config::HealthSettings& b) {
  return same(a.address, b.address) && a.systemd_disabled == b.systemd_disabled;
}

bool same(const config::TracingSettings& a, const config::TracingSettings& b) {
  return a.enabled == b.enabled && a.endpoint == b.endpoint && a.headers == b.headers && a.timeout == b.timeout &&
         a.sample_ratio == b.sample_ratio;
}

template <class T>
void keep(const T& running, T& next, const char* name, std::vector<std::string>& changed) {
  if (!same(running, next)) changed.emplace_back(name);
  next = running;
}

}  // namespace

std::vector<std::string> keep_restart_only_settings(const config::Settings& running, config::Settings& next) {
  std::vector<std::string> changed;
  keep(running.address, next.address, "address", changed);
  keep(running.http_redirect_address, next.http_redirect_address, "http_redirect_addr", changed);
  keep(running.metrics, next.metrics, "metrics_*", changed);
  keep(running.health, next.health, "health_check_*", changed);
  keep(running.tracing, next.tracing, "otel_*", changed);
  keep(running.authenticate_service_url, next.authenticate_service_url, "authenticate_service_url", changed);
  keep(running.idp, next.idp, "idp_provider / idp_provider_url / idp_client_* / idp_scopes", changed);
  keep(running.directory, next.directory, "idp_service_account / idp_refresh_directory_*", changed);
  if (running.store.type != next.store.type || running.store.connection_string != next.store.connection_string)
    changed.emplace_back("databroker_storage_*");
  next.store = running.store;
  if (running.insecure_server != next.insecure_server) changed.emplace_back("insecure_server");
  next.insecure_server = running.insecure_server;
  // Secrets: a configured change needs a restart (every cookie and session is sealed with them); secrets made up
  // at startup stay the process's own.
  if (!next.secrets_generated &&
      (running.shared_secret != next.shared_secret || running.cookie_secret != next.cookie_secret))
    changed.emplace_back("shared_secret / cookie_secret");
  next.shared_secret = running.shared_secret;
  next.cookie_secret = running.cookie_secret;
  next.secrets_generated = running.secrets_generated;
  if (running.signing_key_pem != next.signing_key_pem) changed.emplace_back("signing_key");
  next.signing_key_pem = running.signing_key_pem;
  return changed;
}

}  // namespace postern::app
