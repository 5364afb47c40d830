#include "directory/directory.h"

#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include <boost/json/parse.hpp>

#include "core/base64.h"
#include "core/json.h"
#include "core/random.h"
#include "core/url.h"
#include "directory/directory_state.h"
#include "directory/okta_client.h"
#include "directory/sync.h"
#include "directory/system_log.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "telemetry/log.h"

namespace postern::directory {
namespace asio = boost::asio;

namespace {
// A user re-read on their own (System Log event, sign-in).
struct Reread {
  UserListing user;
  std::vector<Group> groups;
};
}  // namespace

struct Directory::Runtime {
  net::IoContext io;
  net::Watchdog dog{io};
  net::UpstreamPool pool{io, dog};
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::unique_ptr<OktaClient> client;
  net::Timer timer{io};
  net::Timer log_timer{io};
  bool stopping = false;
  std::unique_ptr<DirectoryState> state;  // null until the first full run succeeds
  unsigned runs_since_full = 0;
  // Users re-read while a full run was reading, with when: the run may have read them before they changed, so they
  // are applied again on top of its result.
  struct Recent {
    Reread r;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Recent> recent;
  std::size_t pending_refreshes = 0;  // sign-in re-reads queued or running
  // With a shared store (Directory::shared_): whether this process holds the directory lease, its name in the lease
  // table, the version of the shared state it last loaded, and whether the System Log poll must start afresh (the
  // lease just came here).
  bool leader = true;
  std::string holder;
  std::uint64_t record_seen = 0;
  bool log_restart = false;
  net::Timer lease_timer{io};

  Runtime(const config::DirectorySettings& s, const std::string& org) {
    tls.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    tls.set_default_verify_paths(ec);
    const auto per_call = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(s.refresh_timeout), std::chrono::seconds(30));
    client = std::make_unique<OktaClient>(io, pool, tls, org, s, per_call);
  }
};

Directory::Directory(config::DirectorySettings settings, std::string org, store::SessionStore* shared)
    : settings_(std::move(settings)), org_(std::move(org)), shared_(shared),
      runtime_(std::make_unique<Runtime>(settings_, org_)) {
  runtime_->holder = core::base64url_encode(core::random_bytes(16));
  runtime_->leader = shared_ == nullptr;
}

Directory::~Directory() { stop(); }

std::shared_ptr<const Snapshot> Directory::current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

Directory::Stats Directory::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Directory::publish(std::shared_ptr<const Snapshot> s) {
  {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(s);
  }
  version_.fetch_add(1, std::memory_order_release);
}

// The directory's coroutines (a friend of Directory: they publish and call the revocation handler).
struct DirectoryTasks {
  // Publishes what changed for `users`: as an overlay on the current snapshot while the changes since the last whole
  // snapshot stay small, else the whole state again (the overlay holds its own strings).
  static void publish_users(Directory& d, Directory::Runtime& rt, const std::vector<DirectoryState::Index>& users) {
    if (users.empty() || !rt.state) return;
    auto cur = d.current();
    const std::size_t limit = std::max<std::size_t>(1000, rt.state->user_count() / 8);
    if (!cur || cur->overlay_count() + users.size() > limit) {
      d.publish(rt.state->snapshot());
      return;
    }
    d.publish(cur->with_users(rt.state->users(users), rt.state->group_names(users)));
  }

  static void note_run(Directory& d, const SyncResult& r, bool full, std::chrono::milliseconds took, OktaClient& c,
                       std::uint64_t calls_before, std::uint64_t throttled_before) {
    std::lock_guard lock(d.mutex_);
    auto& s = d.stats_;
    s.api_calls += c.calls() - calls_before;
    s.rate_limited += c.throttled() - throttled_before;
    s.last_duration = took;
    if (r.ok()) {
      ++s.runs_ok;
      if (full) ++s.full_runs;
      s.last_success = std::chrono::system_clock::now();
    } else {
      ++s.runs_failed;
      s.last_failure = std::chrono::system_clock::now();
      s.last_error = r.error;
    }
    if (d.snapshot_) {
      s.users = d.snapshot_->user_count();
      s.groups = d.snapshot_->group_count();
      s.memberships = d.snapshot_->membership_count();
    }
  }

  // One run, full or delta, logged; publishes what it learnt. Returns whether it succeeded.
  static net::Task<bool> run(Directory& d, Directory::Runtime& rt, bool full) {
    auto& client = *rt.client;
    const auto start = std::chrono::steady_clock::now();
    const auto calls_before = client.calls(), throttled_before = client.throttled();
    const RunDeadline deadline(client, d.settings_.refresh_timeout);
    SyncResult r;
    if (full) {
      auto fresh = std::make_unique<DirectoryState>();
      r = co_await full_sync(client, *fresh, deadline);
      if (r.ok()) {
        // Users re-read while this run read may have been read by it before they changed: theirs wins.
        std::erase_if(rt.recent, [&](const auto& x) { return x.at < start; });
        for (const auto& x : rt.recent) fresh->set_user_groups(x.r.user, x.r.groups);
        rt.state = std::move(fresh);
        d.publish(rt.state->snapshot());
      }
    } else {
      r = co_await delta_sync(client, *rt.state, deadline);
      publish_users(d, rt, r.changed);  // what it read before a failure is true too
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    note_run(d, r, full, ms, client, calls_before, throttled_before);
    if (!r.ok()) {
      telemetry::log(telemetry::Level::warn, "directory sync failed; the last good directory stays in use",
                     {{"error", r.error},
                      {"kind", full ? "full" : "delta"},
                      {"credential", std::string(client.credential())},
                      {"org", client.org()},
                      telemetry::num("api_calls", static_cast<long long>(r.calls)),
                      telemetry::num("duration_ms", static_cast<long long>(ms.count()))});
      co_return false;
    }
    if (d.shared_ && rt.leader && rt.state) {
      // The other replicas load this instead of reading Okta themselves.
      if (!d.shared_->put_record("directory", rt.state->encode()))
        telemetry::log(telemetry::Level::warn, "directory state could not be shared; other replicas keep theirs");
    }
    const auto snap = d.current();
    telemetry::log(telemetry::Level::info, "directory sync",
                   {{"kind", full ? "full" : "delta"},
                    telemetry::num("users", static_cast<long long>(snap ? snap->user_count() : 0)),
                    telemetry::num("groups", static_cast<long long>(snap ? snap->group_count() : 0)),
                    telemetry::num("memberships", static_cast<long long>(snap ? snap->membership_count() : 0)),
                    telemetry::num("groups_listed", static_cast<long long>(r.groups_listed)),
                    telemetry::num("users_changed", static_cast<long long>(r.changed.size())),
                    telemetry::num("api_calls", static_cast<long long>(r.calls)),
                    telemetry::num("rate_limited", static_cast<long long>(client.throttled() - throttled_before)),
                    telemetry::num("duration_ms", static_cast<long long>(ms.count()))});
    co_return true;
  }

  // Re-reads one user (status, email, groups with their names); nullopt when Okta could not be asked.
  static net::Task<std::optional<Reread>> reread(OktaClient& client, std::string id) {
    const std::string base = client.org() + "/api/v1/users/" + core::form_encode(id);
    auto page = co_await client.get(base);
    Reread r;
    r.user.id = id;
    if (page.ok()) {
      boost::system::error_code ec;
      const auto v = boost::json::parse(page.body, ec);
      if (ec || !v.is_object()) co_return std::nullopt;
      r.user.status = core::json_string(v.as_object(), "status");
      r.user.email = profile_string(v.as_object(), "email");
    } else if (page.status == 404) {
      r.user.status = "DEPROVISIONED";  // deleted: no access
      co_return r;
    } else {
      co_return std::nullopt;
    }
    const auto error = co_await client.each_object(base + "/groups?limit=200", "a user's group list",
                                                   [&](const boost::json::object& o) {
                                                     Group group{core::json_string(o, "id"), profile_string(o, "name")};
                                                     if (!group.id.empty()) r.groups.push_back(std::move(group));
                                                   });
    if (!error.empty()) co_return std::nullopt;
    co_return r;
  }

  static void apply_reread(Directory& d, Directory::Runtime& rt, Reread r) {
    if (rt.state) publish_users(d, rt, {rt.state->set_user_groups(r.user, r.groups)});
    rt.recent.push_back({std::move(r), std::chrono::steady_clock::now()});
    if (rt.recent.size() > 10'000) rt.recent.erase(rt.recent.begin());
  }

  static net::Task<void> apply(Directory& d, Directory::Runtime& rt, const LogAction& a) {
    if (a.kind == LogAction::Kind::revoke) {
      const std::size_t ended = d.on_revoke_ ? d.on_revoke_(a.user_id) : 0;
      // Marked at once; a cleared session keeps the user's groups (re-read), the other events take them away.
      if (a.status != "ACTIVE" && rt.state)
        if (const auto i = rt.state->update_user(UserListing{a.user_id, {}, a.status, std::nullopt}))
          publish_users(d, rt, {*i});
      telemetry::log(telemetry::Level::info, "okta event: sessions ended",
                     {{"event", a.event_type}, {"user", a.user_id},
                      telemetry::num("sessions", static_cast<long long>(ended))});
      if (a.status != "ACTIVE") co_return;
    }
    if (auto r = co_await reread(*rt.client, a.user_id)) {
      apply_reread(d, rt, std::move(*r));
      telemetry::log(telemetry::Level::info, "okta event: user re-read", {{"event", a.event_type}, {"user", a.user_id}});
    }
  }

  static net::Task<void> refresh(Directory& d, Directory::Runtime& rt, std::string id) {
    if (auto r = co_await reread(*rt.client, id)) {
      apply_reread(d, rt, std::move(*r));
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
      if (!rt.leader) {  // another replica reads the log
        rt.log_timer.expires_after(Directory::log_poll_interval);
        co_await rt.log_timer.async_wait(net::nothrow);
        continue;
      }
      if (rt.log_restart) {
        // The lease just came here: start a minute back (more than lease_ttl), so nothing the last holder had not
        // read yet is missed; acting on an event twice is harmless.
        rt.log_restart = false;
        url = rt.client->org() + "/api/v1/logs?since=" +
              okta_time(std::chrono::system_clock::now() - std::chrono::minutes(1)) + "&sortOrder=ASCENDING&limit=100";
      }
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

  // With a shared store: renews (or takes) the lease; while another replica holds it, loads its newer state.
  static net::Task<void> keep_lease(Directory& d, Directory::Runtime& rt) {
    while (!rt.stopping) {
      const bool leader = d.shared_->hold_lease("directory", rt.holder, Directory::lease_ttl);
      if (leader != rt.leader) {
        telemetry::log(telemetry::Level::info, leader ? "directory lease taken: this process reads Okta"
                                                      : "directory lease lost: another process reads Okta");
        if (leader) {
          rt.log_restart = true;
          rt.timer.cancel();  // a follower's short wait: run now
        }
      }
      rt.leader = leader;
      if (!leader) follow(d, rt);
      rt.lease_timer.expires_after(Directory::lease_renew_interval);
      co_await rt.lease_timer.async_wait(net::nothrow);
    }
  }

  // Loads the state the lease holder shared, when it is newer than the one this process has.
  static void follow(Directory& d, Directory::Runtime& rt) {
    auto record = d.shared_->record_newer_than("directory", rt.record_seen);
    if (!record) return;
    auto state = DirectoryState::decode(record->data);
    if (!state) {
      telemetry::log(telemetry::Level::warn, "the shared directory state could not be read; keeping this one");
      rt.record_seen = record->version;
      return;
    }
    rt.record_seen = record->version;
    rt.state = std::move(state);
    rt.runs_since_full = 0;
    d.publish(rt.state->snapshot());
    {
      std::lock_guard lock(d.mutex_);
      d.stats_.users = rt.state->user_count();
      d.stats_.groups = rt.state->group_count();
      d.stats_.last_success = std::chrono::system_clock::now();
    }
    telemetry::log(telemetry::Level::info, "directory state loaded from the lease holder",
                   {telemetry::num("users", static_cast<long long>(rt.state->user_count())),
                    telemetry::num("groups", static_cast<long long>(rt.state->group_count()))});
  }

  static net::Task<void> loop(Directory& d, Directory::Runtime& rt) {
    while (!rt.stopping) {
      if (!rt.leader) {
        rt.timer.expires_after(Directory::lease_renew_interval);
        co_await rt.timer.async_wait(net::nothrow);
        continue;
      }
      const bool full = !rt.state || rt.runs_since_full + 1 >= Directory::full_reconcile_every;
      const bool ok = co_await run(d, rt, full);
      if (full && ok) rt.runs_since_full = 0;
      else if (!full) ++rt.runs_since_full;
      if (rt.stopping) break;
      rt.timer.expires_after(d.settings_.refresh_interval);
      co_await rt.timer.async_wait(net::nothrow);
    }
  }
};

void Directory::start() {
  if (thread_.joinable()) return;
  auto& rt = *runtime_;
  rt.dog.start();
  if (shared_) {
    // Decide who leads before the first run, so two replicas starting together do not both read Okta.
    rt.leader = shared_->hold_lease("directory", rt.holder, lease_ttl);
    if (!rt.leader) DirectoryTasks::follow(*this, rt);
    rt.log_restart = true;
    asio::co_spawn(rt.io, DirectoryTasks::keep_lease(*this, rt), asio::detached);
  }
  asio::co_spawn(rt.io, DirectoryTasks::loop(*this, rt), asio::detached);
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
    rt.lease_timer.cancel();
    rt.pool.shutdown();
    rt.dog.stop();
    rt.io.stop();  // a call in flight is abandoned: the next start syncs again
  });
  thread_.join();
  rt.io.shutdown_work();  // abandoned calls unwind while the pool and watchdog they use still exist
  if (shared_ && rt.leader) shared_->release_lease("directory", rt.holder);  // another replica takes over at once
}

bool Directory::sync_once() {
  if (thread_.joinable()) return false;
  auto& rt = *runtime_;
  bool ok = false;
  rt.dog.start();
  asio::co_spawn(rt.io, DirectoryTasks::run(*this, rt, true), [&](std::exception_ptr, bool r) {
    ok = r;
    rt.dog.stop();
    rt.pool.shutdown();
  });
  rt.io.run();
  rt.io.restart();
  return ok;
}

}  // namespace postern::directory
