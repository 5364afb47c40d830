#include "app/shared_state.h"

#include <stdexcept>

#include "directory/okta_api.h"
#include "identity/hpke_key.h"
#include "ops/trace_exporter.h"
#include "store/postgres_store.h"
#include "telemetry/log.h"

namespace postern::app {
namespace {

// The sign-in services: built once, at startup (restart_settings.h keeps their settings across reloads).
std::shared_ptr<proxy::AuthServices> build_auth(const config::Settings& settings) {
  auto auth = std::make_shared<proxy::AuthServices>();
  if (settings.store.type == config::StoreSettings::Type::postgres) {
    // Connects, migrates and loads the sessions; throws StoreStartupError (the message names the problem).
    auth->store = store::make_postgres_store(settings.store, settings.shared_secret);
    telemetry::log(telemetry::Level::info, "sessions are stored in PostgreSQL");
  } else {
    auth->store = store::make_memory_store();
  }
  if (settings.idp.configured()) {
    auth->oidc = std::make_unique<authn::OidcClient>(settings.idp,
                                                     settings.authenticate_service_url.origin() + "/oauth2/callback");
  }
  auth->signer = std::make_unique<identity::AssertionSigner>(settings.signing_key_pem, settings.shared_secret);
  auth->hpke_public_key = identity::hpke_public_key(settings.shared_secret);
  if (settings.directory.configured() && settings.idp.provider == "okta") {
    // Throws (naming idp_service_account) when a service app's key cannot sign.
    // With PostgreSQL the replicas share one directory: the lease holder reads Okta, the others load its state.
    auth->directory = std::make_unique<directory::Directory>(
        settings.directory, directory::org_url(settings.idp.url_text),
        settings.store.type == config::StoreSettings::Type::postgres ? auth->store.get() : nullptr);
    // Okta deactivated, suspended or locked a user, or cleared their sessions: theirs end here too.
    auth->directory->on_revoke([store = auth->store.get()](std::string_view user) { return store->erase_user(user); });
    auth->directory->start();
  }
  if (auth->oidc) {
    auth->refresher = std::make_unique<refresh::SessionRefresher>(
        *auth->store,
        [oidc = auth->oidc.get()](net::UpstreamPool& pool, authn::RefreshRequest r) {
          return oidc->refresh(pool, std::move(r));
        },
        auth->directory.get());
    auth->refresh_service = std::make_unique<refresh::RefreshService>(*auth->refresher);
    auth->refresh_service->start();
  }
  return auth;
}

}  // namespace

std::shared_ptr<const proxy::Shared> build_shared(config::SnapshotPtr snapshot, const proxy::Shared* running) {
  auto shared = std::make_shared<proxy::Shared>();
  shared->generation = running ? running->generation + 1 : 0;
  shared->authorize_log_fields = telemetry::authorize_fields(snapshot->settings.authorize_log_fields);
  const auto& settings = snapshot->settings;
  if (!settings.insecure_server) {
    if (settings.certificates.empty()) {
      if (!running)
        telemetry::log(telemetry::Level::warn,
                       "no certificate configured and insecure_server is off: serving a self-signed certificate");
      shared->server_tls = std::make_unique<net::ServerTls>(
          std::vector<config::CertificatePair>{net::ServerTls::self_signed("postern.localhost")});
    } else {
      shared->server_tls = std::make_unique<net::ServerTls>(settings.certificates);
    }
  }
  // Client certificates: the stores are built once per configuration; every TLS context asks for a certificate.
  shared->mtls = net::make_downstream_mtls(settings);
  if (shared->mtls.enabled()) {
    if (!shared->server_tls) {
      throw std::runtime_error("downstream_mtls (or tls_downstream_client_ca) needs TLS: it cannot work with "
                               "insecure_server");
    }
    shared->server_tls->ask_client_certificates(
        *shared->mtls.handshake,
        shared->mtls.enforcement == config::DownstreamMtlsSettings::Enforcement::reject_connection);
    if (!running)
      telemetry::log(telemetry::Level::info, "client certificates requested",
                     {{"enforcement", std::string(config::to_string(settings.downstream_mtls.enforcement))}});
  }
  for (const auto& route : snapshot->routes.routes())
    shared->route_tls.push_back(net::make_route_client_tls(route.settings()));
  shared->upstream_health = std::make_shared<upstream::UpstreamHealth>(settings.routes);
  if (running && running->upstream_health)
    shared->upstream_health->carry_over(*running->upstream_health, running->snapshot->settings.routes, settings.routes);
  // Sessions index only the claims policy can ask for (session/claims.h); a reload adds what its policies name.
  std::vector<std::string> claim_paths;
  for (const auto& route : snapshot->routes.routes()) {
    const auto& rs = route.settings();
    if (rs.policy) rs.policy->claim_paths(claim_paths);
    if (rs.report_policy) rs.report_policy->claim_paths(claim_paths);
  }
  session::Claims::index_only(std::move(claim_paths));
  shared->auth = running ? running->auth : build_auth(settings);
  if (running) {
    shared->tracer = running->tracer;  // otel_* settings need a restart (restart_settings.h)
  } else if (settings.tracing.enabled) {
    auto exporter = std::make_shared<ops::TraceExporter>(settings.tracing);
    exporter->start();
    telemetry::log(telemetry::Level::info, "exporting traces",
                   {{"endpoint", settings.tracing.endpoint},
                    {"sample_ratio", std::to_string(settings.tracing.sample_ratio)}});
    shared->tracer = std::move(exporter);
  }
  shared->snapshot = std::move(snapshot);
  return shared;
}

}  // namespace postern::app
