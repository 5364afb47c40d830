#pragma once
// What a request handler can reach on its worker: the shared immutable state (config snapshot, TLS contexts) and the
// worker's own pool, watchdog, access log and counters. Everything here is touched by one thread only, except
// `Shared`, which is immutable.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "authn/oidc_client.h"
#include "config/snapshot.h"
#include "core/string_hash.h"
#include "directory/directory.h"
#include "identity/assertion_signer.h"
#include "refresh/refresh_service.h"
#include "refresh/session_refresher.h"
#include "session/handle_codec.h"
#include "store/session_store.h"
#include "net/asio_types.h"
#include "net/client_certificate.h"
#include "net/tls.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "proxy/buffer_pool.h"
#include "proxy/h2_upstream.h"
#include "telemetry/access_log.h"
#include "telemetry/metrics.h"
#include "telemetry/trace.h"
#include "upstream/balancer.h"
#include "upstream/target_health.h"

namespace postern::proxy {

// Sign-in services, shared by all workers (each is thread-safe).
struct AuthServices {
  std::unique_ptr<store::SessionStore> store;
  std::unique_ptr<authn::OidcClient> oidc;  // null: no identity provider configured
  std::unique_ptr<identity::AssertionSigner> signer;
  std::string hpke_public_key;  // /.well-known/pomerium/hpke-public-key (identity/hpke_key.h)
  std::unique_ptr<directory::Directory> directory;  // null: no idp_service_account
  std::unique_ptr<refresh::SessionRefresher> refresher;  // null without an identity provider
  std::unique_ptr<refresh::RefreshService> refresh_service;
  ~AuthServices() {
    // The background threads use the store and the IdP client: they stop first.
    if (refresh_service) refresh_service->stop();
    if (directory) directory->stop();
  }
};

// Built from a config snapshot (at startup and by each reload); shared read-only by all workers. A request holds the
// Shared it started with until it ends; a connection moves to the newest one between requests.
struct Shared {
  std::uint64_t generation = 0;  // 0 at startup, +1 per reload: keeps upstream pool keys of configurations apart
  std::shared_ptr<AuthServices> auth;
  config::SnapshotPtr snapshot;
  std::unique_ptr<net::ServerTls> server_tls;  // null with insecure_server
  // Client TLS context per route index; null for routes without https upstreams.
  std::vector<std::shared_ptr<boost::asio::ssl::context>> route_tls;
  std::uint32_t authorize_log_fields = 0;  // telemetry::AuthorizeField bits from authorize_log_fields
  net::DownstreamMtls mtls;  // client certificates (downstream_mtls, tls_downstream_client_ca)
  // Every route's target health (active checks, outlier ejections), read by each worker's balancers.
  std::shared_ptr<upstream::UpstreamHealth> upstream_health;
  // OpenTelemetry traces (otel_traces_exporter: otlp); null when off. Kept across reloads.
  std::shared_ptr<telemetry::SpanSink> tracer;
};

struct WorkerContext {
  WorkerContext(boost::asio::io_context& io_context, std::shared_ptr<const Shared> s)
      : io(io_context), watchdog(io_context), pool(io_context, watchdog), h2_upstreams(io_context.get_executor(), pool),
        shared(std::move(s)),
        directory(shared->auth ? shared->auth->directory.get() : nullptr),
        access_log_timer(io_context.get_executor()) {
    make_balancers();
    metrics_enabled = shared->snapshot->settings.metrics.address.has_value();
  }
  // A reload published `next`: new connections and the next request on each open connection use it; requests in
  // flight keep theirs (and this worker's balancers for it) until they end.
  void adopt(std::shared_ptr<const Shared> next);

  boost::asio::io_context& io;
  net::Watchdog watchdog;
  net::UpstreamPool pool;
  H2UpstreamPool h2_upstreams;  // HTTP/2 upstream connections (h2c://, and https:// that chose h2)
  telemetry::AccessLog access_log;
  std::shared_ptr<const Shared> shared;
  directory::SnapshotReader directory;  // the Okta directory as this worker last saw it
  BufferPool<64 * 1024> relay_buffers;  // body relay buffers (one per request relaying a body)
  BufferPool<16 * 1024> arena_buffers;  // header arenas (one per request in progress)
  bool draining = false;
  bool flush_scheduled = false;
  std::uint64_t requests = 0;
  // One balancer per route (by route index): this worker's round-robin position, in-flight counts, hash tables.
  // Replaced (not edited) by a reload, since requests in flight still count on the old ones.
  std::shared_ptr<std::vector<upstream::Balancer>> balancers;
  void make_balancers();
  // This worker's metric cells (telemetry/metrics.h), read by scrapes on the control thread.
  telemetry::WorkerMetrics metrics;
  bool metrics_enabled = false;  // metrics_address is set
  std::size_t connections = 0;

  // Signed assertions per (session, route host), reused for most of their 5-minute life.
  struct CachedAssertion {
    std::string jwt;
    std::int64_t refresh_at = 0;  // unix seconds
    std::uint64_t directory_version = 0;  // the Okta directory it was signed with: a new one re-signs (groups claim)
  };
  static constexpr std::size_t max_cached_assertions = 10'000;
  core::StringMap<CachedAssertion> assertions;
  std::string assertion_key;  // scratch buffer for lookups
  // Scratch for a forwarded request's identity headers (see identity_headers): reused, so no allocation per request.
  std::vector<std::pair<std::string_view, std::string_view>> identity_headers;
  std::vector<std::string> claim_values;

  // Opened session handles by their sealed text: opening is a pure function of the text, so this cache needs no
  // invalidation (the session itself is still looked up in the store on every request).
  static constexpr std::size_t max_cached_handles = 10'000;
  core::StringMap<session::Handle> handles;

  // Appends to the access log; lines are written out at most `access_log_flush_interval` later (or at once when the
  // buffer is full), so a busy worker makes one write per interval rather than one per request.
  static constexpr auto access_log_flush_interval = std::chrono::milliseconds(50);
  net::Timer access_log_timer;
  void log_access(const telemetry::AccessRecord& record);
  void log_authorize(const telemetry::AuthorizeRecord& record);
  // After an append: arms the flush timer when the buffer has just become non-empty.
  void schedule_flush(bool buffer_was_empty);
};

}  // namespace postern::proxy
