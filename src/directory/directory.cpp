#include "directory/directory.h"

#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include <boost/json/parse.hpp>

#include "core/json.h"
#include "directory/okta_client.h"
#include "directory/sync.h"
#include "directory/system_log.h"
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
  net::Timer log_timer{io};
  bool stopping = false;
  // Users re-read from System Log events, with when: re-applied on top of a full sync that started before them (the
  // sync may have read the user before the change).
  struct Recent {
    User user;
    std::vector<Group> names;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Recent> recent;
  std::size_t pending_refreshes = 0;  // sign-in re-reads queued or running

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

// The directory's coroutines (a friend of Directory: they publish and call the revocation handler).
struct DirectoryTasks {
  // Re-reads one user (status, email, groups with their names); nullopt when Okta could not be asked.
  static net::Task<std::optional<std::pair<User, std::vector<Group>>>> reread(OktaClient& client, std::string id) {
    auto page = co_await client.get(client.org() + "/api/v1/users/" + id);
    User u;
    u.id = id;
    if (page.ok()) {
      boost::system::error_code ec;
      const auto v = boost::json::parse(page.body, ec);
      if (ec || !v.is_object()) co_return std::nullopt;
      u.status = core::json_string(v.as_object(), "status");
      u.email = profile_string(v.as_object(), "email");
    } else if (page.status == 404) {
      u.status = "DEPROVISIONED";  // deleted: no access
      co_return std::pair{std::move(u), std::vector<Group>{}};
    } else {
      co_return std::nullopt;
    }
    std::vector<Group> names;
    const auto error = co_await client.each_object(
        client.org() + "/api/v1/users/" + id + "/groups?limit=200", "a user's group list",
        [&](const boost::json::object& o) {
          Group group{core::json_string(o, "id"), profile_string(o, "name")};
          if (group.id.empty()) return;
          u.group_ids.push_back(group.id);
          names.push_back(std::move(group));
        });
    if (!error.empty()) co_return std::nullopt;
    co_return std::pair{std::move(u), std::move(names)};
  }

  static void overlay(Directory& d, Directory::Runtime& rt, User u, std::vector<Group> names) {
    auto base = d.current();
    auto next = base ? base->with_user(u, names) : Snapshot().with_user(u, names);
    rt.recent.push_back({std::move(u), std::move(names), std::chrono::steady_clock::now()});
    if (rt.recent.size() > 10'000) rt.recent.erase(rt.recent.begin());
    d.publish(std::move(next));
  }

  static net::Task<void> apply(Directory& d, Directory::Runtime& rt, const LogAction& a) {
    if (a.kind == LogAction::Kind::revoke) {
      const std::size_t ended = d.on_revoke_ ? d.on_revoke_(a.user_id) : 0;
      // Marked at once; a cleared session keeps the user's groups (re-read), the other events take them away.
      if (a.status != "ACTIVE") overlay(d, rt, User{a.user_id, {}, a.status, {}}, {});
      telemetry::log(telemetry::Level::info, "okta event: sessions ended",
                     {{"event", a.event_type}, {"user", a.user_id},
                      telemetry::num("sessions", static_cast<long long>(ended))});
      if (a.status != "ACTIVE") co_return;
    }
    if (auto r = co_await reread(*rt.client, a.user_id)) {
      overlay(d, rt, std::move(r->first), std::move(r->second));
      telemetry::log(telemetry::Level::info, "okta event: user re-read", {{"event", a.event_type}, {"user", a.user_id}});
    }
  }

  static net::Task<void> refresh(Directory& d, Directory::Runtime& rt, std::string id) {
    if (auto r = co_await reread(*rt.client, id)) {
      overlay(d, rt, std::move(r->first), std::move(r->second));
      telemetry::log(telemetry::Level::debug, "directory: user re-read at sign-in", {{"user", id}});
    }
    --rt.pending_refreshes;
  }

  static net::Task<void> watch_log(Directory& d, Directory::Runtime& rt) {
    // Polling mode (ascending, no until): Okta's `next` link is always there and leads past what was read.
    std::string url = rt.client->org() + "/api/v1/logs?since=" +
                      okta_time(std::chrono::system_clock::now() - std::chrono::minutes(1)) +
                      "&sortOrder=ASCENDING&limit=100";
    bool failing = false;
    while (!rt.stopping) {
      auto page = co_await rt.client->get(url);
      if (rt.stopping) break;
      if (page.ok()) {
        if (failing) telemetry::log(telemetry::Level::info, "okta system log: reading again");
        failing = false;
        for (const auto& a : system_log_actions(page.body)) co_await apply(d, rt, a);
        if (page.next) url = std::move(*page.next);
      } else if (!failing) {
        failing = true;
        telemetry::log(telemetry::Level::warn, "okta system log could not be read; revocations wait for the next sync",
                       {{"error", page.error}});
      }
      rt.log_timer.expires_after(Directory::log_poll_interval);
      co_await rt.log_timer.async_wait(net::nothrow);
    }
  }
};

void Directory::start() {
  if (thread_.joinable()) return;
  auto& rt = *runtime_;
  rt.dog.start();
  asio::co_spawn(
      rt.io,
      [this, &rt]() -> net::Task<void> {
        const std::function<void(std::shared_ptr<const Snapshot>)> pub = [this](auto s) { publish(std::move(s)); };
        while (!rt.stopping) {
          const auto sync_start = std::chrono::steady_clock::now();
          if (co_await run_once(*rt.client, settings_, pub)) {
            // Users re-read while this sync ran may have been read by it before they changed: theirs wins.
            std::erase_if(rt.recent, [&](const auto& r) { return r.at < sync_start; });
            for (const auto& r : rt.recent) publish(current()->with_user(r.user, r.names));
          }
          if (rt.stopping) break;
          rt.timer.expires_after(settings_.refresh_interval);
          co_await rt.timer.async_wait(net::nothrow);
        }
      },
      asio::detached);
  asio::co_spawn(rt.io, DirectoryTasks::watch_log(*this, rt), asio::detached);
  thread_ = std::thread([&rt] { rt.io.run(); });
}

void Directory::refresh_user(std::string user_id) {
  if (!thread_.joinable() || user_id.empty()) return;
  auto& rt = *runtime_;
  asio::post(rt.io, [this, &rt, id = std::move(user_id)]() mutable {
    if (rt.stopping || rt.pending_refreshes >= max_pending_refreshes) return;  // the next sync reads them anyway
    ++rt.pending_refreshes;
    asio::co_spawn(rt.io, DirectoryTasks::refresh(*this, rt, std::move(id)), asio::detached);
  });
}

void Directory::stop() {
  if (!thread_.joinable()) return;
  auto& rt = *runtime_;
  asio::post(rt.io, [&rt] {
    rt.stopping = true;
    rt.timer.cancel();
    rt.log_timer.cancel();
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
