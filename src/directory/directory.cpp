#include "directory/directory.h"

#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "directory/okta_client.h"
#include "directory/sync.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "telemetry/log.h"

namespace postern::directory {
namespace asio = boost::asio;

struct Directory::Runtime {
  asio::io_context io;
  net::Watchdog dog{io};
  net::UpstreamPool pool{io, dog};
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::unique_ptr<OktaClient> client;
  net::Timer timer{io};
  bool stopping = false;

  Runtime(const config::DirectorySettings& s, const std::string& org) {
    tls.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    tls.set_default_verify_paths(ec);
    const auto per_call = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(s.refresh_timeout), std::chrono::seconds(30));
    client = std::make_unique<OktaClient>(io, pool, tls, org, s.api_key, per_call);
  }
};

Directory::Directory(config::DirectorySettings settings, std::string org)
    : settings_(std::move(settings)), org_(std::move(org)), runtime_(std::make_unique<Runtime>(settings_, org_)) {}

Directory::~Directory() { stop(); }

std::shared_ptr<const Snapshot> Directory::current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void Directory::publish(std::shared_ptr<const Snapshot> s) {
  {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(s);
  }
  version_.fetch_add(1, std::memory_order_release);
}

namespace {

// One sync, logged; publishes on success.
net::Task<bool> run_once(OktaClient& client, const config::DirectorySettings& s,
                         const std::function<void(std::shared_ptr<const Snapshot>)>& publish) {
  const auto start = std::chrono::steady_clock::now();
  const auto throttled_before = client.throttled();
  auto r = co_await full_sync(client, start + s.refresh_timeout);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  if (!r.snapshot) {
    telemetry::log(telemetry::Level::warn, "directory sync failed; the last good directory stays in use",
                   {{"error", r.error},
                    {"credential", "idp_service_account (Okta API token)"},
                    {"org", client.org()},
                    telemetry::num("api_calls", static_cast<long long>(r.calls)),
                    telemetry::num("duration_ms", static_cast<long long>(ms.count()))});
    co_return false;
  }
  telemetry::log(telemetry::Level::info, "directory sync",
                 {telemetry::num("users", static_cast<long long>(r.snapshot->user_count())),
                  telemetry::num("groups", static_cast<long long>(r.snapshot->group_count())),
                  telemetry::num("memberships", static_cast<long long>(r.snapshot->membership_count())),
                  telemetry::num("api_calls", static_cast<long long>(r.calls)),
                  telemetry::num("rate_limited", static_cast<long long>(client.throttled() - throttled_before)),
                  telemetry::num("duration_ms", static_cast<long long>(ms.count()))});
  publish(std::move(r.snapshot));
  co_return true;
}

}  // namespace

void Directory::start() {
  if (thread_.joinable()) return;
  auto& rt = *runtime_;
  rt.dog.start();
  asio::co_spawn(
      rt.io,
      [this, &rt]() -> net::Task<void> {
        const std::function<void(std::shared_ptr<const Snapshot>)> pub = [this](auto s) { publish(std::move(s)); };
        while (!rt.stopping) {
          co_await run_once(*rt.client, settings_, pub);
          if (rt.stopping) break;
          rt.timer.expires_after(settings_.refresh_interval);
          co_await rt.timer.async_wait(net::nothrow);
        }
      },
      asio::detached);
  thread_ = std::thread([&rt] { rt.io.run(); });
}

void Directory::stop() {
  if (!thread_.joinable()) return;
  auto& rt = *runtime_;
  asio::post(rt.io, [&rt] {
    rt.stopping = true;
    rt.timer.cancel();
    rt.pool.shutdown();
    rt.dog.stop();
    rt.io.stop();  // a call in flight is abandoned: the next start syncs again
  });
  thread_.join();
}

bool Directory::sync_once() {
  if (thread_.joinable()) return false;
  auto& rt = *runtime_;
  bool ok = false;
  rt.dog.start();
  const std::function<void(std::shared_ptr<const Snapshot>)> pub = [this](auto s) { publish(std::move(s)); };
  asio::co_spawn(rt.io, run_once(*rt.client, settings_, pub), [&](std::exception_ptr, bool r) {
    ok = r;
    rt.dog.stop();
    rt.pool.shutdown();
  });
  rt.io.run();
  rt.io.restart();
  return ok;
}

}  // namespace postern::directory
