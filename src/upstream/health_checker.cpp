#include "upstream/health_checker.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <random>
#include <tuple>

#include "telemetry/log.h"

namespace postern::upstream {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_status_line = 8 * 1024;

std::string seconds_text(config::Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// "HTTP/1.1 200 OK" → 200; 0 when it is not a status line.
unsigned status_of(std::string_view line) {
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return 0;
  unsigned code = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return 0;
    code = code * 10 + unsigned(line[i] - '0');
  }
  return code;
}

template <class Stream>
asio::awaitable<ProbeResult> http_exchange(Stream& stream, const config::UpstreamTarget& target,
                                           const config::HealthCheckSettings& check) {
  const std::string request = "GET " + check.path + " HTTP/1.1\r\nHost: " +
                              (check.host.empty() ? target.authority() : check.host) +
                              "\r\nUser-Agent: postern-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), token);
  if (wec) co_return ProbeResult{false, "write failed: " + wec.message()};
  std::string buffer;
  auto [rec, rn] = co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer, max_status_line), "\r\n", token);
  if (rec) co_return ProbeResult{false, rec == asio::error::eof ? "closed without an answer" : "read failed: " + rec.message()};
  const unsigned code = status_of(std::string_view(buffer).substr(0, rn));
  if (code == 0) co_return ProbeResult{false, "not an HTTP response"};
  for (const auto& [first, end] : check.expected_statuses)
    if (code >= first && code < end) co_return ProbeResult{true, "status " + std::to_string(code)};
  co_return ProbeResult{false, "status " + std::to_string(code)};
}

asio::awaitable<ProbeResult> run_probe(const config::UpstreamTarget& target, const config::HealthCheckSettings& check,
                                       asio::ssl::context* tls, const std::string& server_name) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  boost::system::error_code cec;
  boost::system::error_code aec;
  const auto address = asio::ip::make_address(target.host, aec);
  if (!aec) {
    // An IP literal never waits for the resolver's thread (where a stuck lookup of another target may sit).
    std::tie(cec) = co_await socket.async_connect(tcp::endpoint(address, target.port), token);
  } else {
    tcp::resolver resolver(executor);
    auto [dec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port), token);
    if (dec) co_return ProbeResult{false, "name lookup failed: " + dec.message()};
    tcp::endpoint ep;
    std::tie(cec, ep) = co_await asio::async_connect(socket, results, token);
  }
  if (cec) co_return ProbeResult{false, cec.message()};
  // An h2c:// target speaks HTTP/2 only: an HTTP/1.1 check can only show that it accepts connections.
  if (check.kind == config::HealthCheckSettings::Kind::tcp || target.h2c()) co_return ProbeResult{true, "connected"};
  if (!target.tls() || !tls) co_return co_await http_exchange(socket, target, check);
  asio::ssl::stream<tcp::socket&> stream(socket, *tls);
  const std::string& name = server_name.empty() ? target.host : server_name;
  SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
  stream.set_verify_callback(asio::ssl::host_name_verification(name));
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, token);
  if (hec) co_return ProbeResult{false, "TLS handshake failed: " + hec.message()};
  co_return co_await http_exchange(stream, target, check);
}

}  // namespace

asio::awaitable<ProbeResult> HealthChecker::probe(const config::UpstreamTarget& target,
                                                  const config::HealthCheckSettings& check, asio::ssl::context* tls,
                                                  const std::string& server_name) {
  asio::steady_timer deadline(co_await asio::this_coro::executor, check.timeout);
  auto result = co_await (run_probe(target, check, tls, server_name) || deadline.async_wait(token));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return ProbeResult{false, "timed out after " + seconds_text(check.timeout)};
}

struct HealthChecker::Impl {
  struct Check {
    std::size_t route = 0, target = 0, index = 0;
    const config::RouteSettings* settings = nullptr;
    const config::HealthCheckSettings* check = nullptr;
    bool healthy = true;
    std::uint32_t failures = 0, passes = 0;
  };
  asio::io_context& io;
  const std::vector<config::RouteSettings>& routes;
  UpstreamHealth& health;
  std::vector<std::shared_ptr<asio::ssl::context>> route_tls;
  std::vector<std::unique_ptr<Check>> checks;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  bool stopped = false;
  std::mt19937_64 rng{std::random_device{}()};
  std::shared_ptr<const void> owner;  // keeps `routes` and `health` alive while a probe is still in flight

  // A target takes traffic while every check of it passes.
  void publish(const Check& c) {
    bool all = true;
    for (const auto& other : checks)
      if (other->route == c.route && other->target == c.target) all = all && other->healthy;
    health.route(c.route).set_checked(c.target, all);
  }

  // `self` keeps this Impl alive until the coroutine ends, after stop() and the checker's destruction (a reload
  // replaces the checker while probes may still be in flight).
  static asio::awaitable<void> loop(std::shared_ptr<Impl> self, Check& c, asio::steady_timer& timer) {
    co_await self->run(c, timer);
  }

  asio::awaitable<void> run(Check& c, asio::steady_timer& timer) {
    const auto& check = *c.check;
    const auto& target = c.settings->to[c.target];
    if (check.initial_jitter.count() > 0) {
      std::uniform_int_distribution<std::int64_t> jitter(0, check.initial_jitter.count());
      timer.expires_after(config::Duration(jitter(rng)));
      auto [ec] = co_await timer.async_wait(token);
      if (ec || stopped) co_return;
    }
    while (!stopped) {
      auto* tls = route_tls.size() > c.route ? route_tls[c.route].get() : nullptr;
      ProbeResult r = co_await probe(target, check, tls, c.settings->tls_server_name);
      if (stopped) co_return;
      if (r.ok) {
        c.failures = 0;
        ++c.passes;
      } else {
        c.passes = 0;
        ++c.failures;
      }
      const bool was = c.healthy;
      if (c.healthy && c.failures >= check.unhealthy_threshold) c.healthy = false;
      if (!c.healthy && c.passes >= check.healthy_threshold) c.healthy = true;
      if (c.healthy != was) {
        telemetry::log(c.healthy ? telemetry::Level::info : telemetry::Level::warn, "upstream health changed",
                       {{"route", c.settings->from}, {"upstream", target.url},
                        telemetry::boolean("healthy", c.healthy), telemetry::num("check", static_cast<long long>(c.index)),
                        {"detail", r.detail}});
        publish(c);
      }
      timer.expires_after(check.interval);
      auto [ec] = co_await timer.async_wait(token);
      if (ec) co_return;
    }
  }
};

HealthChecker::HealthChecker(asio::io_context& io, const std::vector<config::RouteSettings>& routes,
                             UpstreamHealth& health, std::vector<std::shared_ptr<asio::ssl::context>> route_tls,
                             std::shared_ptr<const void> owner)
    : impl_(std::make_shared<Impl>(Impl{io, routes, health, std::move(route_tls), {}, {}, false, {}, std::move(owner)})) {
  for (std::size_t r = 0; r < routes.size(); ++r) {
    const auto& rs = routes[r];
    for (std::size_t t = 0; t < rs.to.size(); ++t)
      for (std::size_t k = 0; k < rs.upstream.health_checks.size(); ++k) {
        auto c = std::make_unique<Impl::Check>();
        *c = Impl::Check{r, t, k, &rs, &rs.upstream.health_checks[k], true, 0, 0};
        impl_->checks.push_back(std::move(c));
      }
  }
}

HealthChecker::~HealthChecker() { stop(); }

std::size_t HealthChecker::check_count() const noexcept { return impl_->checks.size(); }

void HealthChecker::start() {
  for (auto& c : impl_->checks) {
    impl_->timers.push_back(std::make_unique<asio::steady_timer>(impl_->io));
    asio::co_spawn(impl_->io, Impl::loop(impl_, *c, *impl_->timers.back()), asio::detached);
  }
}

void HealthChecker::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (auto& t : impl_->timers) t->cancel();
}

}  // namespace postern::upstream
