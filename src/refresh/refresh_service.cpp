#include "refresh/refresh_service.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <unordered_set>

#include "core/base64.h"
#include "core/random.h"
#include "net/watchdog.h"
#include "telemetry/log.h"

namespace postern::refresh {
namespace asio = boost::asio;

struct RefreshService::Runtime {
  net::IoContext io;
  net::Watchdog dog{io};
  net::UpstreamPool pool{io, dog};
  net::Timer timer{io};
  bool stopping = false;
  std::atomic<bool> leased{false};
  std::unordered_set<std::string> in_flight;  // session ids being refreshed from this thread
};

namespace {

net::Task<void> refresh_one(SessionRefresher& r, RefreshService::Runtime& rt,
                            std::shared_ptr<const session::Session> s) {
  co_await r.refresh(rt.pool, s);
  rt.in_flight.erase(s->id);
}

net::Task<void> loop(SessionRefresher& r, RefreshService::Runtime& rt, const std::string& holder) {
  bool had_lease = false;
  while (!rt.stopping) {
    const bool leased = r.store().hold_lease("refresh", holder, RefreshService::lease_ttl);
    rt.leased.store(leased, std::memory_order_relaxed);
    if (leased != had_lease)
      telemetry::log(telemetry::Level::info, leased ? "refresh lease taken: this process refreshes sessions"
                                                    : "refresh lease lost: another process refreshes sessions");
    had_lease = leased;
    if (leased && rt.in_flight.size() < RefreshService::max_in_flight) {
      for (auto& s : r.store().due_for_refresh(session::Clock::now(), RefreshService::batch)) {
        if (rt.in_flight.size() >= RefreshService::max_in_flight) break;
        if (!rt.in_flight.insert(s->id).second) continue;
        asio::co_spawn(rt.io, refresh_one(r, rt, std::move(s)), asio::detached);
      }
    }
    rt.timer.expires_after(RefreshService::poll_interval);
    co_await rt.timer.async_wait(net::nothrow);
  }
}

}  // namespace

RefreshService::RefreshService(SessionRefresher& refresher)
    : refresher_(refresher), holder_(core::base64url_encode(core::random_bytes(16))), runtime_(std::make_unique<Runtime>()) {}

RefreshService::~RefreshService() { stop(); }

bool RefreshService::holds_lease() const noexcept { return runtime_->leased.load(std::memory_order_relaxed); }

void RefreshService::start() {
  if (thread_.joinable()) return;
  auto& rt = *runtime_;
  rt.dog.start();
  asio::co_spawn(rt.io, loop(refresher_, rt, holder_), asio::detached);
  thread_ = std::thread([&rt] { rt.io.run(); });
}

void RefreshService::stop() {
  if (!thread_.joinable()) return;
  auto& rt = *runtime_;
  asio::post(rt.io, [&rt] {
    rt.stopping = true;
    rt.timer.cancel();
    rt.pool.shutdown();
    rt.dog.stop();
    rt.io.stop();  // a refresh in flight is abandoned; its claim lapses and the next holder retries
  });
  thread_.join();
  rt.io.shutdown_work();  // abandoned refreshes unwind while the pool and watchdog they use still exist
  if (rt.leased.load()) refresher_.store().release_lease("refresh", holder_);
}

}  // namespace postern::refresh
