#include "app/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "app/operations.h"
#include "app/restart_settings.h"
#include "app/shared_state.h"
#include "config/loader.h"
#include "net/listener.h"
#include "net/timeouts.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "ops/admin_server.h"
#include "ops/config_watcher.h"
#include "ops/systemd_notify.h"
#include "proxy/http_session.h"
#include "proxy/https_redirect.h"
#include "telemetry/access_log.h"
#include "telemetry/log.h"
#include "upstream/health_checker.h"

namespace postern::app {
namespace asio = boost::asio;
using asio::ip::tcp;

using net::nothrow;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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

  std::string config_path;
  // The configuration in use (control thread), and what workers adopt: `published` under `publish_mutex`, its
  // generation readable without the lock (workers compare it every command poll, so a reload reaches every worker
  // within command_poll_interval).
  std::shared_ptr<const proxy::Shared> shared;
  std::mutex publish_mutex;
  std::shared_ptr<const proxy::Shared> published;
  std::atomic<std::uint64_t> published_generation{0};
  // Configurations replaced by a reload, freed here (on the control thread) once no request holds them any more.
  std::vector<std::shared_ptr<const proxy::Shared>> retired;
  std::vector<std::unique_ptr<Worker>> workers;

  net::IoContext control{1};  // signals, health checks, reloads, metrics and probe listeners
  telemetry::MetricsRegistry metrics;
  ReloadRecord reloads;
  std::unique_ptr<ops::AdminServer> metrics_server, health_server;
  std::unique_ptr<upstream::HealthChecker> health_checker;
  std::unique_ptr<ops::ConfigWatcher> watcher;
  std::atomic<bool> stopping{false};
  std::atomic<bool> idp_ready{false};
  bool systemd = true;
  config::ListenAddress bound;  // the main listener as bound (port 0 resolved)
  unsigned short redirect_port = 0;

  // Runs on the worker until it has drained or stopped: acts on the control thread's commands and adopts a newly
  // published configuration.
  void watch_commands(Worker& w, std::shared_ptr<net::Timer> timer) {
    const int command = w.command.load(std::memory_order_acquire);
    if (command == Worker::stop) {
      w.context.watchdog.stop();
      w.io.stop();
      return;
    }
    if (command == Worker::drain && !w.context.draining) begin_drain(w);
    if (w.finished.load()) return;
    if (published_generation.load(std::memory_order_acquire) != w.context.shared->generation && !w.context.draining) {
      std::shared_ptr<const proxy::Shared> next;
      {
        std::lock_guard lock(publish_mutex);
        next = published;
      }
      w.context.adopt(std::move(next));
    }
    timer->expires_after(command_poll_interval);
    timer->async_wait([this, &w, timer](boost::system::error_code ec) {
      if (!ec) watch_commands(w, timer);
    });
  }

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
    w.context.h2_upstreams.clear();  // GOAWAY: streams in progress finish, idle connections close
    poll_drained(w);
  }

  static void poll_drained(Worker& w) {
    if (w.context.connections == 0) {
      w.context.h2_upstreams.shutdown();
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

  void start_health_checks() {
    const auto& s = *shared;
    health_checker = std::make_unique<upstream::HealthChecker>(control, s.snapshot->settings.routes, *s.upstream_health,
                                                               s.route_tls, shared);
    health_checker->start();
    if (health_checker->check_count() > 0)
      telemetry::log(telemetry::Level::info, "upstream health checks started",
                     {telemetry::num("checks", static_cast<long long>(health_checker->check_count()))});
  }

  // Loads the configuration file again, validates it whole, and publishes it with one swap; a bad edit keeps the
  // running configuration. On the control thread.
  void reload(const char* trigger) {
    if (stopping) return;
    if (systemd) ops::systemd_notify_reloading();
    reloads.last_attempt_unix = unix_now();
    try {
      auto settings = config::load_settings(config_path, config::Environment::from_process());
      const auto& running = shared->snapshot->settings;
      for (const auto& name : keep_restart_only_settings(running, settings))
        telemetry::log(telemetry::Level::warn, "a setting changed that needs a restart; keeping the running value",
                       {{"setting", name}});
      for (const auto& w : settings.warnings) telemetry::log(telemetry::Level::warn, w);
      const std::string level = settings.log_level;
      auto snapshot = std::make_shared<const config::Snapshot>(std::move(settings));
      auto next = build_shared(std::move(snapshot), shared.get());
      retired.push_back(shared);
      shared = next;
      {
        std::lock_guard lock(publish_mutex);
        published = next;
      }
      published_generation.store(next->generation, std::memory_order_release);
      health_checker->stop();
      start_health_checks();
      if (watcher) watcher->watch(shared->snapshot->settings.files);
      telemetry::init_logging(telemetry::parse_level(level));
      reloads.last_success = true;
      reloads.last_success_unix = unix_now();
      ++reloads.succeeded;
      telemetry::log(telemetry::Level::info, "configuration reloaded",
                     {{"trigger", trigger},
                      telemetry::num("routes", static_cast<long long>(shared->snapshot->routes.routes().size())),
                      telemetry::num("generation", static_cast<long long>(shared->generation))});
    } catch (const config::ConfigErrors& e) {
      reloads.last_success = false;
      ++reloads.failed;
      const auto& problems = e.problems();
      telemetry::log(telemetry::Level::error, "configuration reload failed; keeping the running configuration",
                     {{"trigger", trigger},
                      {"error", problems.empty() ? std::string("invalid configuration") : problems.front().to_string()},
                      telemetry::num("problems", static_cast<long long>(problems.size()))});
    } catch (const std::exception& e) {
      reloads.last_success = false;
      ++reloads.failed;
      telemetry::log(telemetry::Level::error, "configuration reload failed; keeping the running configuration",
                     {{"trigger", trigger}, {"error", e.what()}});
    }
    if (systemd) ops::systemd_notify("READY=1");
  }

  // Frees replaced configurations nobody uses any more (requests in flight hold theirs), every second.
  void sweep_retired(std::shared_ptr<asio::steady_timer> timer) {
    std::erase_if(retired, [](const auto& s) { return s.use_count() == 1; });
    timer->expires_after(std::chrono::seconds(1));
    timer->async_wait([this, timer](boost::system::error_code ec) {
      if (!ec) sweep_retired(timer);
    });
  }

  // /readyz: reads the IdP's discovery document from the control thread until it succeeds.
  net::Task<void> await_identity_provider(net::UpstreamPool& pool) {
    authn::OidcClient* oidc = shared->auth->oidc.get();
    bool logged = false;
    while (!stopping) {
      std::string error;
      auto metadata = co_await oidc->metadata(pool, error);
      if (metadata) {
        idp_ready = true;
        telemetry::log(telemetry::Level::info, "identity provider discovery read; ready");
        co_return;
      }
      if (!logged) telemetry::log(telemetry::Level::warn, "identity provider not reachable yet; not ready",
                                  {{"error", error}});
      logged = true;
      net::Timer wait(co_await asio::this_coro::executor, std::chrono::seconds(2));
      co_await wait.async_wait(nothrow);
    }
  }

  ProcessView view() {
    ProcessView v;
    v.current = [this]() -> const proxy::Shared& { return *shared; };
    v.reloads = &reloads;
    for (const auto& w : workers) v.pools.push_back(&w->context.pool);
    v.draining = [this] { return stopping.load(); };
    v.identity_provider_ready = [this] { return idp_ready.load(); };
    return v;
  }

  void open_operations_listeners() {
    const auto& settings = shared->snapshot->settings;
    for (const auto& w : workers) metrics.add_worker(&w->context.metrics);
    add_process_metrics(metrics, view());
    if (const auto& address = settings.metrics.address) {
      std::shared_ptr<asio::ssl::context> tls;
      if (!settings.metrics.certificate_pem.empty())
        tls = ops::make_admin_tls(settings.metrics.certificate_pem, settings.metrics.key_pem,
                                  settings.metrics.client_ca_pem);
      metrics_server = std::make_unique<ops::AdminServer>(control, *address, "metrics_address",
                                                          metrics_handler(metrics, settings.metrics.basic_auth), tls);
      telemetry::log(telemetry::Level::info, "serving metrics",
                     {{"address", config::ListenAddress{address->host, metrics_server->port()}.to_string()},
                      telemetry::boolean("tls", tls != nullptr),
                      telemetry::boolean("basic_auth", !settings.metrics.basic_auth.empty())});
    }
    if (const auto& address = settings.health.address) {
      try {
        health_server = std::make_unique<ops::AdminServer>(control, *address, "health_check_addr", health_handler(view()));
        telemetry::log(telemetry::Level::info, "serving health probes",
                       {{"address", config::ListenAddress{address->host, health_server->port()}.to_string()}});
      } catch (const std::exception& e) {
        // Pomerium's default address may be taken (another Postern on this machine): the probes are then off. An
        // address the configuration names must work.
        if (settings.health.address_configured) throw;
        telemetry::log(telemetry::Level::warn, "health probe listener not started", {{"error", e.what()}});
      }
    }
  }
};

Server::Server(config::SnapshotPtr snapshot, unsigned worker_count, std::string config_path)
    : impl_(std::make_unique<Impl>()) {
  impl_->config_path = std::move(config_path);
  const auto address = snapshot->settings.address;
  impl_->shared = build_shared(std::move(snapshot));
  impl_->published = impl_->shared;
  impl_->reloads.last_success_unix = impl_->reloads.last_attempt_unix = unix_now();
  impl_->systemd = !impl_->shared->snapshot->settings.health.systemd_disabled;
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
  impl_->open_operations_listeners();
  impl_->bound = {address.host, port};
  impl_->redirect_port = redirect_port;
}

Server::~Server() {
  for (auto& w : impl_->workers) {
    w->command.store(Impl::Worker::stop, std::memory_order_release);
    if (w->thread.joinable()) w->thread.join();
  }
}

int Server::run() {
  std::signal(SIGPIPE, SIG_IGN);
  Impl& impl = *impl_;
  for (auto& wp : impl.workers) {
    Impl::Worker& w = *wp;
    w.thread = std::thread([&impl, &w] {
      w.context.watchdog.start();
      asio::co_spawn(w.io, Impl::accept_loop(w, *w.acceptor, false), asio::detached);
      if (w.redirect_acceptor) asio::co_spawn(w.io, Impl::accept_loop(w, *w.redirect_acceptor, true), asio::detached);
      impl.watch_commands(w, std::make_shared<net::Timer>(w.io.get_executor()));
      w.io.run();
      // Connections still open after the grace period are suspended coroutines: destroy them now, while the
      // worker's pools and watchdog they release into still exist (see net::IoContext).
      w.io.shutdown_work();
      w.finished = true;
    });
  }

  net::IoContext& control = impl.control;
  // Active health checks run here, on the control thread; workers read their verdicts (upstream/target_health.h).
  impl.start_health_checks();
  if (impl.metrics_server) impl.metrics_server->start();
  if (impl.health_server) impl.health_server->start();
  // The control thread's own outbound calls (the IdP's discovery for /readyz).
  net::Watchdog control_watchdog(control);
  control_watchdog.start();
  net::UpstreamPool control_pool(control, control_watchdog);
  if (impl.shared->auth->oidc) asio::co_spawn(control, impl.await_identity_provider(control_pool), asio::detached);
  else impl.idp_ready = true;
  auto sweep = std::make_shared<asio::steady_timer>(control);
  impl.sweep_retired(sweep);

  // Hot reload: the configuration file and every file it names are watched; SIGHUP forces a reload.
  if (!impl.config_path.empty()) {
    try {
      impl.watcher = std::make_unique<ops::ConfigWatcher>(control, [&impl] { impl.reload("file change"); });
      impl.watcher->watch(impl.shared->snapshot->settings.files);
    } catch (const std::exception& e) {
      telemetry::log(telemetry::Level::warn, "configuration files are not watched; SIGHUP reloads",
                     {{"error", e.what()}});
    }
  }
  asio::signal_set signals(control, SIGTERM, SIGINT);
  asio::signal_set hangup(control, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      if (impl.config_path.empty())
        telemetry::log(telemetry::Level::warn, "SIGHUP received, but the configuration comes from the environment "
                                               "only: nothing to reload");
      else impl.reload("SIGHUP");
      wait_hangup();
    });
  };
  wait_hangup();
  // Only now, with the signal handlers and the watcher in place, is Postern ready: a SIGTERM, SIGHUP or edit that
  // follows this line is acted on.
  telemetry::log(telemetry::Level::info, "listening",
                 {{"address", impl.bound.to_string()}, telemetry::boolean("tls", impl.shared->server_tls != nullptr),
                  telemetry::num("workers", static_cast<long long>(impl.workers.size())),
                  telemetry::num("routes", static_cast<long long>(impl.shared->snapshot->routes.routes().size()))});
  if (const auto& redirect = impl.shared->snapshot->settings.http_redirect_address)
    telemetry::log(telemetry::Level::info, "redirecting http to https",
                   {{"address", config::ListenAddress{redirect->host, impl.redirect_port}.to_string()}});
  if (impl.systemd) ops::systemd_notify("READY=1");

  asio::steady_timer grace(control);
  std::function<void()> check_done;
  asio::steady_timer poll(control);
  bool grace_over = false;
  const auto stop_control = [&] {
    impl.health_checker->stop();
    if (impl.watcher) impl.watcher->stop();
    if (impl.metrics_server) impl.metrics_server->stop();
    if (impl.health_server) impl.health_server->stop();
    sweep->cancel();
    control_pool.shutdown();
    control_watchdog.stop();
    control.stop();  // probes and scrapes in flight end with the io_context
  };
  check_done = [&] {
    if (grace_over) return;  // a poll that completed just before the grace timer must not re-arm itself
    bool all = true;
    for (auto& w : impl.workers) all = all && w->finished.load();
    if (all) {
      grace.cancel();
      stop_control();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](boost::system::error_code ec) {
      if (!ec) check_done();
    });
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    impl.stopping = true;
    if (impl.systemd) ops::systemd_notify("STOPPING=1");
    hangup.cancel();
    if (impl.watcher) impl.watcher->stop();
    telemetry::log(telemetry::Level::info, "shutting down",
                   {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
                    {"grace", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                 net::timeouts::shutdown_grace).count()) + "s"}});
    for (auto& w : impl.workers) w->command.store(Impl::Worker::drain, std::memory_order_release);
    grace.expires_after(net::timeouts::shutdown_grace);
    grace.async_wait([&](boost::system::error_code gec) {
      if (!gec) telemetry::log(telemetry::Level::warn, "grace period over; closing remaining connections");
      grace_over = true;
      poll.cancel();
      for (auto& w : impl.workers) w->command.store(Impl::Worker::stop, std::memory_order_release);
      stop_control();  // the workers are joined below
    });
    check_done();
  });
  control.run();
  for (auto& w : impl.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Suspended control-thread coroutines (an IdP call, a scrape, a probe) are destroyed now, while the pool and
  // watchdog they use still exist (see net::IoContext).
  control.shutdown_work();
  telemetry::flush_access_logs();
  telemetry::log(telemetry::Level::info, "stopped");
  return impl.stopping ? 0 : 1;
}

}  // namespace postern::app
