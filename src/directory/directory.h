#pragma once
// The Okta directory service: a thread of its own (never a worker) that reads the directory through Okta's
// Management API every idp_refresh_directory_interval and publishes each good result as an immutable Snapshot. The
// first run and every `full_reconcile_every`-th read everything (sync.h full_sync); the runs between are deltas that
// re-list only the groups and users Okta stamped as changed since the last run (delta_sync), and publish only the users
// that changed. Between runs it polls the System Log (every `log_poll_interval`, following Okta's `next` cursor from the time it started):
// a deactivation, suspension, lock or cleared session ends the user's sessions at once (through the revocation
// handler) and marks the user; a membership change or a restoring event re-reads that user.
// Workers read the snapshot through a SnapshotReader: one atomic load per request, and a short lock only in the
// rare request that first sees a new version, so the data path takes no lock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/settings.h"
#include "directory/snapshot.h"
#include "store/session_store.h"

namespace postern::directory {

class Directory {
 public:
  // `org` is the org's base URL (org_url of idp_provider_url). Starts nothing: see start(). With `shared` (a store
  // replicas share), only the process holding its "directory" lease reads Okta (runs and the System Log) and writes
  // its state there after each good run; the others load that state and publish it (see follow in directory.cpp).
  Directory(config::DirectorySettings settings, std::string org, store::SessionStore* shared = nullptr);
  ~Directory();  // stops the thread
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  static constexpr std::chrono::seconds log_poll_interval{5};  // 12 calls a minute of the logs bucket's 120
  static constexpr unsigned full_reconcile_every = 12;           // with the default 10m interval: every 2 hours
  // With a shared store: how often the lease is renewed (and a follower looks for a newer state), and its lifetime:
  // a dead holder's lease passes to another replica within lease_ttl.
  static constexpr std::chrono::seconds lease_renew_interval{3};
  static constexpr std::chrono::seconds lease_ttl{10};

  // What the runs did, for logs and (with the metrics issue) metrics.
  struct Stats {
    std::uint64_t runs_ok = 0, runs_failed = 0, full_runs = 0;
    std::uint64_t api_calls = 0, rate_limited = 0;  // every call the directory made, System Log included
    std::chrono::system_clock::time_point last_success{}, last_failure{};
    std::chrono::milliseconds last_duration{0};
    std::size_t users = 0, groups = 0, memberships = 0;
    std::string last_error;
  };
  [[nodiscard]] Stats stats() const;

  // Called on the directory's thread with a user id whose sessions must end now; returns how many ended. Set before
  // start().
  void on_revoke(std::function<std::size_t(std::string_view user_id)> handler) { on_revoke_ = std::move(handler); }

  void start();
  void stop();

  // Has one user re-read now (a sign-in: a new employee must not wait for the next sync). Thread-safe, returns at
  // once; the snapshot gains the user a moment later. Dropped when too many are already waiting.
  void refresh_user(std::string user_id);
  static constexpr std::size_t max_pending_refreshes = 1000;

  // The last good snapshot (null before the first sync succeeds). Locks briefly; workers use SnapshotReader.
  [[nodiscard]] std::shared_ptr<const Snapshot> current() const;
  // Bumped on every publication.
  [[nodiscard]] std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }
  // Runs one sync now and waits for it (postern policy check); false when it failed (the reason is logged).
  bool sync_once();

 private:
  struct Runtime;
  void publish(std::shared_ptr<const Snapshot> s);

  friend struct DirectoryTasks;
  config::DirectorySettings settings_;
  std::string org_;
  store::SessionStore* shared_;
  std::function<std::size_t(std::string_view)> on_revoke_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
  Stats stats_;  // under mutex_
  std::atomic<std::uint64_t> version_{0};
  std::unique_ptr<Runtime> runtime_;
  std::thread thread_;
};

// A worker's view of the directory: holds the snapshot it last saw and takes a newer one when the version moves.
class SnapshotReader {
 public:
  explicit SnapshotReader(const Directory* d) : directory_(d) {}
  [[nodiscard]] const Snapshot* get() {
    if (!directory_) return nullptr;
    const auto v = directory_->version();
    if (v != seen_) {
      snapshot_ = directory_->current();
      seen_ = v;
    }
    return snapshot_.get();
  }
  // The version of the snapshot get() last returned (0: none yet).
  [[nodiscard]] std::uint64_t version() const noexcept { return seen_; }

 private:
  const Directory* directory_;
  std::uint64_t seen_ = 0;
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace postern::directory
