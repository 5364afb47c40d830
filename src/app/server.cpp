#include "app/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <csignal>
#include <stdexcept>
#include <thread>

#include "directory/okta_api.h"
#include "identity/hpke_key.h"
#include "net/listener.h"
#include "net/timeouts.h"
#include "proxy/http_session.h"
#include "proxy/https_redirect.h"
#include "store/postgres_store.h"
#include "telemetry/access_log.h"
#include "telemetry/log.h"
#include "upstream/health_checker.h"

namespace postern::app {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using net::nothrow;

std::shared_ptr<const proxy::Shared> build_shared(config::SnapshotPtr snapshot) {
  auto shared = std::make_shared<proxy::Shared>();
  shared->authorize_log_fields = telemetry::authorize_fields(snapshot->settings.authorize_log_fields);
  const auto& settings = snapshot->settings;
  if (!settings.insecure_server) {
    if (settings.certificates.empty()) {
      telemetry::log(telemetry::Level::warn,
                     "no certificate configured and insecure_server is off: serving a self-signed certificate");
      shared->server_tls = std::make_unique<net::ServerTls>(
          std::vector<config::CertificatePair>{net::ServerTls::self_signed("postern.localhost")});
    } else {
      shared->server_tls = std::make_unique<net::ServerTls>(settings.certificates);
    }
  }
  // Client certificates: the stores are built once; every TLS context asks for a certificate.
  shared->mtls = net::make_downstream_mtls(settings);
  if (shared->mtls.enabled()) {
    if (!shared->server_tls) {
      throw std::runtime_error("downstream_mtls (or tls_downstream_client_ca) needs TLS: it cannot work with "
                               "insecure_server");
    }
    shared->server_tls->ask_client_certificates(
        *shared->mtls.handshake,
        shared->mtls.enforcement == config::DownstreamMtlsSettings::Enforcement::reject_connection);
    telemetry::log(telemetry::Level::info, "client certificates requested",
                   {{"enforcement", std::string(config::to_string(settings.downstream_mtls.enforcement))}});
  }
  for (const auto& route : snapshot->routes.routes())
    shared->route_tls.push_back(net::make_route_client_tls(route.settings()));
  shared->upstream_health = std::make_shared<upstream::UpstreamHealth>(settings.routes);
  // Sessions index only the claims policy can ask for (session/claims.h).
  std::vector<std::string> claim_paths;
  for (const auto& route : snapshot->routes.routes()) {
    const auto& rs = route.settings();
    if (rs.policy) rs.policy->claim_paths(claim_paths);
    if (rs.report_policy) rs.report_policy->claim_paths(claim_paths);
  }
  session::Claims::index_only(std::move(claim_paths));
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
  shared->auth = std::move(auth);
  shared->snapshot = std::move(snapshot);
  return shared;
}

}  // namespace

struct Server::Impl {
  struct Worker {
    explicit Worker(std::shared_ptr<const proxy::Shared> shared)
        : io(net::worker_concurrency_hint), context(io, std::move(shared)), guard(asio::make_work_guard(io)) {}
    net::IoContext io;
    proxy::WorkerContext context;
    std::optional<net::Acceptor> acceptor;
    std::optional<net::Acceptor> redirect_acceptor;  // http_redirect_addr
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::thread thread;
    std::atomic<bool> finished{false};
    // What the control thread asks of the worker. The worker's io_context runs without any locking (see
    // net::worker_concurrency_hint), so no other thread may post to it or stop it: the worker polls this instead.
    enum Command : int { none, drain, stop };
    std::atomic<int> command{none};
  };

  static constexpr auto command_poll_interval = std::chrono::milliseconds(50);

  // Runs on the worker until it has drained or stopped: acts on the control thread's commands.
  static void watch_commands(Worker& w, std::shared_ptr<net::Timer> timer) {
    const int command = w.command.load(std::memory_order_acquire);
    if (command == Worker::stop) {
      w.context.watchdog.stop();
      w.io.stop();
      return;
    }
    if (command == Worker::drain && !w.context.draining) begin_drain(w);
    if (w.finished.load()) return;
    timer->expires_after(command_poll_interval);
    timer->async_wait([&w, timer](boost::system::error_code ec) {
      if (!ec) watch_commands(w, timer);
    });
  }

  std::shared_ptr<const proxy::Shared> shared;
  std::vector<std::unique_ptr<Worker>> workers;

  static net::Task<void> accept_loop(Worker& w, net::Acceptor& acceptor, bool redirect) {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(nothrow);
      if (ec) {
        if (w.context.draining || !acceptor.is_open()) co_return;
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
          telemetry::log(telemetry::Level::error, "accept failed; pausing", {{"error", ec.message()}});
          net::Timer pause(w.io.get_executor(), std::chrono::milliseconds(100));
          co_await pause.async_wait(nothrow);
        }
        continue;
      }
      asio::co_spawn(w.io,
                     redirect ? proxy::serve_https_redirect(w.context, std::move(socket),
                                                            w.acceptor->local_endpoint().port())
                              : proxy::serve_connection(w.context, std::move(socket)),
                     [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          telemetry::log(telemetry::Level::error, "connection ended by an unexpected error", {{"error", ex.what()}});
        }
      });
    }
  }

  // Runs on the worker: stop accepting, close idle keep-alive connections, and finish once no connection is left.
  static void begin_drain(Worker& w) {
    w.context.draining = true;
    boost::system::error_code ec;
    w.acceptor->close(ec);
    if (w.redirect_acceptor) w.redirect_acceptor->close(ec);
    w.context.watchdog.expire_idle("shutdown");
    w.context.pool.clear();
    poll_drained(w);
  }

  static void poll_drained(Worker& w) {
    if (w.context.connections == 0) {
      w.context.pool.shutdown();  // nothing waits for the pool any more: abandoned DNS lookups must not hold run()
      w.context.access_log.flush();
      w.guard.reset();
      w.context.watchdog.stop();
      w.finished = true;
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(w.io, std::chrono::milliseconds(20));
    timer->async_wait([&w, timer](boost::system::error_code) {
      w.context.watchdog.expire_idle("shutdown");
      poll_drained(w);
    });
  }
};

Server::Server(config::SnapshotPtr snapshot, unsigned worker_count) : impl_(std::make_unique<Impl>()) {
  const auto address = snapshot->settings.address;
  impl_->shared = build_shared(std::move(snapshot));
  unsigned short port = address.port;
  unsigned short redirect_port =
      impl_->shared->snapshot->settings.http_redirect_address ? impl_->shared->snapshot->settings.http_redirect_address->port : 0;
  for (unsigned i = 0; i < std::max(1u, worker_count); ++i) {
    auto w = std::make_unique<Impl::Worker>(impl_->shared);
    try {
      w->acceptor.emplace(net::open_listener(w->io, address.host, port));
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + address.to_string() + ": " + e.code().message());
    }
    port = w->acceptor->local_endpoint().port();  // port 0: the others join the port the first one got
    if (const auto& redirect = impl_->shared->snapshot->settings.http_redirect_address) {
      try {
        w->redirect_acceptor.emplace(net::open_listener(w->io, redirect->host, redirect_port));
      } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + redirect->to_string() + " (http_redirect_addr): " +
                                 e.code().message());
      }
      redirect_port = w->redirect_acceptor->local_endpoint().port();
    }
    impl_->workers.push_back(std::move(w));
  }
  config::ListenAddress bound{address.host, port};
  telemetry::log(telemetry::Level::info, "listening",
                 {{"address", bound.to_string()}, telemetry::boolean("tls", impl_->shared->server_tls != nullptr),
                  telemetry::num("workers", static_cast<long long>(impl_->workers.size())),
                  telemetry::num("routes", static_cast<long long>(impl_->shared->snapshot->routes.routes().size()))});
  if (const auto& redirect = impl_->shared->snapshot->settings.http_redirect_address)
    telemetry::log(telemetry::Level::info, "redirecting http to https",
                   {{"address", config::ListenAddress{redirect->host, redirect_port}.to_string()}});
}

Server::~Server() {
  for (auto& w : impl_->workers) {
    w->command.store(Impl::Worker::stop, std::memory_order_release);
    if (w->thread.joinable()) w->thread.join();
  }
}

int Server::run() {
  std::signal(SIGPIPE, SIG_IGN);
  for (auto& wp : impl_->workers) {
    Impl::Worker& w = *wp;
    w.thread = std::thread([&w] {
      w.context.watchdog.start();
      asio::co_spawn(w.io, Impl::accept_loop(w, *w.acceptor, false), asio::detached);
      if (w.redirect_acceptor) asio::co_spawn(w.io, Impl::accept_loop(w, *w.redirect_acceptor, true), asio::detached);
      Impl::watch_commands(w, std::make_shared<net::Timer>(w.io.get_executor()));
      w.io.run();
      // Connections still open after the grace period are suspended coroutines: destroy them now, while the
      // worker's pools and watchdog they release into still exist (see net::IoContext).
      w.io.shutdown_work();
      w.finished = true;
    });
  }

  asio::io_context control(1);
  // Active health checks run here, on the control thread; workers read their verdicts (upstream/target_health.h).
  upstream::HealthChecker health_checker(control, impl_->shared->snapshot->settings.routes,
                                         *impl_->shared->upstream_health, impl_->shared->route_tls);
  health_checker.start();
  if (health_checker.check_count() > 0)
    telemetry::log(telemetry::Level::info, "upstream health checks started",
                   {telemetry::num("checks", static_cast<long long>(health_checker.check_count()))});
  asio::signal_set signals(control, SIGTERM, SIGINT);
  // SIGHUP asks Pomerium to reload its configuration. Until reload exists, say so rather than die (SIGHUP's default).
  asio::signal_set hangup(control, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      telemetry::log(telemetry::Level::warn,
                     "SIGHUP received: configuration reload is not supported yet; restart Postern to apply changes");
      wait_hangup();
    });
  };
  wait_hangup();
  asio::steady_timer grace(control);
  bool stopping = false;
  std::function<void()> check_done;
  asio::steady_timer poll(control);
  bool grace_over = false;
  check_done = [&] {
    if (grace_over) return;  // a poll that completed just before the grace timer must not re-arm itself
    bool all = true;
    for (auto& w : impl_->workers) all = all && w->finished.load();
    if (all) {
      grace.cancel();
      health_checker.stop();
      control.stop();  // probes in flight end with the io_context
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](boost::system::error_code ec) {
      if (!ec) check_done();
    });
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    stopping = true;
    hangup.cancel();
    telemetry::log(telemetry::Level::info, "shutting down",
                   {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
                    {"grace", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                 net::timeouts::shutdown_grace).count()) + "s"}});
    for (auto& w : impl_->workers) w->command.store(Impl::Worker::drain, std::memory_order_release);
    grace.expires_after(net::timeouts::shutdown_grace);
    grace.async_wait([&](boost::system::error_code gec) {
      if (!gec) telemetry::log(telemetry::Level::warn, "grace period over; closing remaining connections");
      grace_over = true;
      poll.cancel();
      for (auto& w : impl_->workers) w->command.store(Impl::Worker::stop, std::memory_order_release);
      health_checker.stop();
      control.stop();  // the workers are joined below
    });
    check_done();
  });
  control.run();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  telemetry::flush_access_logs();
  telemetry::log(telemetry::Level::info, "stopped");
  return stopping ? 0 : 1;
}

}  // namespace postern::app
