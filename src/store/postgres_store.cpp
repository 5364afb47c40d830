#include "store/postgres_store.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include "core/crypto.h"
#include "core/string_hash.h"
#include "store/pg_connection.h"
#include "store/session_codec.h"
#include "telemetry/log.h"

namespace postern::store {
namespace {

using namespace std::chrono_literals;
using session::Clock;
using SessionPtr = std::shared_ptr<const session::Session>;

// Named deadlines (every call to the database has one).
constexpr auto store_connect_timeout = 3s;  // one connection attempt
constexpr auto store_startup_timeout = 15s;  // how long startup keeps trying before it gives up
constexpr auto store_read_timeout = 1s;     // a worker's cache miss: one primary-key read
constexpr auto store_write_timeout = 3s;    // one write or claim
constexpr auto store_bulk_timeout = 30s;    // loading every live session, migrations, purges
constexpr auto listener_tick = 250ms;       // the listener wakes at least this often (stop, purge)
constexpr std::chrono::milliseconds reconnect_first = 100ms, reconnect_max = 5s;
constexpr auto purge_interval = 60s;
// Without the database, cached sessions keep working this long (then requests sign in again, fail closed).
constexpr auto cache_grace = 5min;
constexpr std::size_t max_connections = 16;     // per process: workers, the refresher, the directory
constexpr std::size_t max_absent = 100'000;     // ids known not to exist (ended, or never seen): no read per request
constexpr std::size_t max_pending_erases = 10'000;
constexpr std::string_view channel = "postern_sessions";

// Schema migrations, applied in order; migration i brings the schema to version i + 1. Never edit a shipped one:
// append.
constexpr std::string_view migrations[] = {
    R"sql(
CREATE TABLE postern_sessions (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  version bigint NOT NULL,
  expires_at_ms bigint NOT NULL,
  refresh_due_ms bigint,
  data bytea NOT NULL);
CREATE INDEX postern_sessions_due ON postern_sessions (refresh_due_ms) WHERE refresh_due_ms IS NOT NULL;
CREATE INDEX postern_sessions_user ON postern_sessions (user_id);
CREATE INDEX postern_sessions_expiry ON postern_sessions (expires_at_ms);
CREATE TABLE postern_markers (key bytea PRIMARY KEY, expires_at timestamptz NOT NULL);
CREATE TABLE postern_leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL);
)sql",
    R"sql(
CREATE TABLE postern_records (name text PRIMARY KEY, version bigint NOT NULL, data bytea NOT NULL);
)sql"};
static_assert(std::size(migrations) == postgres_schema_version);

std::int64_t millis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Connections handed to one thread at a time; at most max_connections open.
class PgPool {
 public:
  explicit PgPool(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  struct Lease {
    PgPool* pool = nullptr;
    std::unique_ptr<PgConnection> conn;
    Lease() = default;
    Lease(PgPool* p, std::unique_ptr<PgConnection> c) : pool(p), conn(std::move(c)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool) pool->give_back(std::move(conn));
    }
    explicit operator bool() const noexcept { return conn != nullptr; }
    PgConnection* operator->() const noexcept { return conn.get(); }
    PgConnection& operator*() const noexcept { return *conn; }
  };

  Lease take(std::chrono::milliseconds wait, std::string& error) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (idle_.empty() && open_ >= max_connections) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_connections) {
        error = "every store connection is busy";
        return {};
      }
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return {this, std::move(c)};
    }
    ++open_;
    lock.unlock();
    auto c = PgConnection::connect(conninfo_, store_connect_timeout, error);
    if (!c) {
      std::lock_guard again(mutex_);
      --open_;
      cv_.notify_one();
      return {};
    }
    return {this, std::move(c)};
  }

  void clear() {
    std::lock_guard lock(mutex_);
    open_ -= idle_.size();
    idle_.clear();
  }

 private:
  void give_back(std::unique_ptr<PgConnection> c) {
    std::lock_guard lock(mutex_);
    if (c && c->healthy()) idle_.push_back(std::move(c));
    else --open_;
    cv_.notify_one();
  }

  std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::size_t open_ = 0;
};

class PostgresStore final : public SessionStore {
 public:
  PostgresStore(std::string conninfo, std::string key) : conninfo_(std::move(conninfo)), key_(std::move(key)), pool_(conninfo_) {
    std::string error;
    const auto give_up = std::chrono::steady_clock::now() + store_startup_timeout;
    std::unique_ptr<PgConnection> conn;
    auto wait = reconnect_first;
    while (!(conn = PgConnection::connect(conninfo_, store_connect_timeout, error))) {
      if (std::chrono::steady_clock::now() + wait >= give_up)
        throw StoreStartupError("databroker_storage_connection_string: cannot reach PostgreSQL: " + error);
      std::this_thread::sleep_for(wait);
      wait = std::min<std::chrono::milliseconds>(wait * 2, reconnect_max);
    }
    migrate(*conn);
    if (!reload(*conn)) throw StoreStartupError("PostgreSQL: could not read the sessions table");
    available_.store(true);
    listener_ = std::thread([this, c = std::move(conn)]() mutable { listen(std::move(c)); });
  }

  ~PostgresStore() override {
    stopping_.store(true);
    if (listener_.joinable()) listener_.join();
  }

  bool available() const override { return available_.load(std::memory_order_acquire); }

  bool put(SessionPtr s) override {
    const auto result = write(R"sql(
WITH w AS (
  INSERT INTO postern_sessions (id, user_id, version, expires_at_ms, refresh_due_ms, data)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, version = EXCLUDED.version,
    expires_at_ms = EXCLUDED.expires_at_ms, refresh_due_ms = EXCLUDED.refresh_due_ms, data = EXCLUDED.data
  RETURNING id, version)
SELECT pg_notify('postern_sessions', 'put:' || id || ':' || version) FROM w)sql",
                              *s, std::nullopt);
    if (!result.ok() || result.rows() != 1) return false;
    cache_put(std::move(s));
    return true;
  }

  bool replace(SessionPtr s, std::uint64_t expected_version) override {
    const auto result = write(R"sql(
WITH w AS (
  UPDATE postern_sessions SET user_id = $2, version = $3, expires_at_ms = $4, refresh_due_ms = $5, data = $6
  WHERE id = $1 AND version = $7
  RETURNING id, version)
SELECT pg_notify('postern_sessions', 'put:' || id || ':' || version) FROM w)sql",
                              *s, expected_version);
    if (!result.ok() || result.rows() != 1) return false;
    cache_put(std::move(s));
    return true;
  }

  SessionPtr get(std::string_view id) const override {
    const auto now = Clock::now();
    if (!available() && Clock::now() - down_since() > cache_grace) return nullptr;  // too long without the database
    {
      std::shared_lock lock(mutex_);
      if (const auto it = sessions_.find(id); it != sessions_.end())
        return it->second->expires_at > now ? it->second : nullptr;
      if (absent_.contains(std::string(id))) return nullptr;
    }
    if (!available()) return nullptr;
    // Not cached: signed in on another replica a moment ago (its notification not here yet), or unknown.
    auto s = read_one(id, store_read_timeout);
    if (!s) return nullptr;
    cache_put(s);
    return s->expires_at > now ? s : nullptr;
  }

  void erase(std::string_view id) override {
    cache_erase(std::string(id));
    delete_sessions(Erase::by_id, id);
  }

  std::size_t erase_user(std::string_view user_id) override {
    std::size_t cached = 0;
    {
      std::unique_lock lock(mutex_);
      cached = std::erase_if(sessions_, [&](const auto& s) {
        if (s.second->user_id != user_id) return false;
        remember_absent_locked(s.first);
        return true;
      });
    }
    return std::max(cached, delete_sessions(Erase::by_user, user_id));
  }

  bool claim_once(std::string_view key, std::chrono::seconds ttl) override {
    const std::string hashed = core::sha256(key);  // the marker's name is a state or handoff id: keep only a hash
    const std::string seconds = std::to_string(ttl.count());
    const auto r = run("claim", R"sql(
INSERT INTO postern_markers (key, expires_at) VALUES ($1, now() + make_interval(secs => $2::double precision))
ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE postern_markers.expires_at <= now()
RETURNING 1)sql",
                       {{hashed, true}, {seconds}}, store_write_timeout);
    return r.ok() && r.rows() == 1;
  }

  std::vector<SessionPtr> due_for_refresh(Clock::time_point now, std::size_t limit) override {
    std::vector<SessionPtr> out;
    const std::string at = std::to_string(millis(now)), n = std::to_string(limit);
    const auto r = run("due sessions", R"sql(
SELECT id, data FROM postern_sessions WHERE refresh_due_ms <= $1 AND expires_at_ms > $1
ORDER BY refresh_due_ms LIMIT $2)sql",
                       {{at}, {n}}, store_bulk_timeout);
    for (int i = 0; i < r.rows(); ++i)
      if (auto s = open_session(r.bytes(i, 1), r.text(i, 0), key_)) out.push_back(std::move(s));
    return out;
  }

  bool hold_lease(std::string_view name, std::string_view holder, std::chrono::seconds ttl) override {
    const std::string seconds = std::to_string(ttl.count());
    const auto r = run({}, R"sql(
INSERT INTO postern_leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3::double precision))
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE postern_leases.holder = EXCLUDED.holder OR postern_leases.expires_at <= now()
RETURNING holder)sql",
                       {{name}, {holder}, {seconds}}, store_write_timeout);
    return r.ok() && r.rows() == 1;
  }

  bool put_record(std::string_view name, std::string_view data) override {
    const std::string sealed = core::aead_seal(key_, data, "postern record v1:" + std::string(name));
    return run("record write", R"sql(
INSERT INTO postern_records (name, version, data) VALUES ($1, 1, $2)
ON CONFLICT (name) DO UPDATE SET version = postern_records.version + 1, data = EXCLUDED.data)sql",
               {{name}, {sealed, true}}, store_bulk_timeout)
        .ok();
  }

  std::optional<Record> record_newer_than(std::string_view name, std::uint64_t seen) override {
    const std::string after = std::to_string(seen);
    const auto r = run({}, "SELECT version, data FROM postern_records WHERE name = $1 AND version > $2",
                       {{name}, {after}}, store_bulk_timeout);
    if (!r.ok() || r.rows() != 1) return std::nullopt;
    auto plain = core::aead_open(key_, r.bytes(0, 1), "postern record v1:" + std::string(name));
    if (!plain) {
      log_failure("record read", "a record this shared_secret cannot open");
      return std::nullopt;
    }
    return Record{std::strtoull(std::string(r.text(0, 0)).c_str(), nullptr, 10), std::move(*plain)};
  }

  void release_lease(std::string_view name, std::string_view holder) override {
    (void)run({}, "DELETE FROM postern_leases WHERE name = $1 AND holder = $2", {{name}, {holder}},
              store_write_timeout);
  }

 private:
  // ---- schema ----------------------------------------------------------------------------------------------------
  void migrate(PgConnection& c) {
    auto must = [&](std::string_view sql, std::initializer_list<PgParam> params = {}) {
      auto r = c.exec(sql, params, store_bulk_timeout);
      if (!r.ok()) throw StoreStartupError("PostgreSQL schema: " + r.error());
      return r;
    };
    must("BEGIN");
    must("SELECT pg_advisory_xact_lock(7301911)");  // one replica migrates at a time
    must("CREATE TABLE IF NOT EXISTS postern_schema (version integer NOT NULL)");
    auto r = must("SELECT max(version) FROM postern_schema");
    const int current = r.rows() == 1 && !r.is_null(0, 0) ? std::atoi(std::string(r.text(0, 0)).c_str()) : 0;
    if (current > postgres_schema_version) {
      (void)c.exec("ROLLBACK", {}, store_write_timeout);
      throw StoreStartupError("PostgreSQL: the database's schema is version " + std::to_string(current) +
                              ", newer than this Postern's (" + std::to_string(postgres_schema_version) +
                              "): a newer Postern migrated it; run that version (or newer)");
    }
    for (int v = current; v < postgres_schema_version; ++v) must(migrations[v]);
    if (current != postgres_schema_version) {
      must("DELETE FROM postern_schema");
      const std::string v = std::to_string(postgres_schema_version);
      must("INSERT INTO postern_schema (version) VALUES ($1::integer)", {{v}});
      telemetry::log(telemetry::Level::info, "PostgreSQL schema migrated",
                     {{"from", std::to_string(current)}, {"to", v}});
    }
    must("COMMIT");
  }

  // ---- writes ----------------------------------------------------------------------------------------------------
  // put/replace: $1 id, $2 user, $3 version, $4 expiry, $5 refresh due (null: none), $6 sealed record[, $7 expected]
  PgResult write(std::string_view sql, const session::Session& s, std::optional<std::uint64_t> expected) {
    const std::string version = std::to_string(s.version), expiry = std::to_string(millis(s.expires_at));
    const std::string due = s.refresh_scheduled() ? std::to_string(millis(s.refresh_due_at)) : std::string();
    const std::string sealed = seal_session(s, key_);
    const std::string expected_text = expected ? std::to_string(*expected) : std::string();
    std::vector<PgParam> params{{s.id}, {s.user_id}, {version}, {expiry}, {due, false, due.empty()}, {sealed, true}};
    if (expected) params.push_back({expected_text});
    return run("write", sql, params, store_write_timeout);
  }

  // One statement on a pooled connection, every store call's way to the database. Without the database it fails at
  // once ("the database is unavailable"); a failure on a connection that broke marks the store unavailable
  // (note_failure), and one that was tried is logged as `what` when given. The pool is waited for at most
  // store_write_timeout (or `timeout`, when shorter).
  PgResult run(std::string_view what, std::string_view sql, const std::vector<PgParam>& params,
               std::chrono::milliseconds timeout) const {
    if (!available()) return PgResult(nullptr, "the database is unavailable");
    std::string error;
    auto conn = pool_.take(std::min<std::chrono::milliseconds>(timeout, store_write_timeout), error);
    if (!conn) {
      if (!what.empty()) log_failure(what, error);
      return PgResult(nullptr, error);
    }
    auto r = conn->exec(sql, params, timeout);
    if (!r.ok()) {
      note_failure(*conn);
      if (!what.empty()) log_failure(what, r.error());
    }
    return r;
  }

  // A failed call on a broken connection means the database is gone: say so, so other calls fail fast until the
  // listener reconnects.
  void note_failure(const PgConnection& c) const {
    if (c.healthy()) return;
    if (available_.exchange(false)) {
      down_since_ms_.store(millis(Clock::now()));
      telemetry::log(telemetry::Level::error, "lost the connection to PostgreSQL; cached sessions keep working, "
                                              "sign-ins wait until it is back");
    }
  }

  void log_failure(std::string_view what, const std::string& error) const {
    telemetry::log(telemetry::Level::warn, "session store call failed", {{"call", std::string(what)}, {"error", error}});
  }

  // Erases in the database, each announced on the feed: by session id or by user. Without the database (or on a
  // failure) the erase is queued and replayed by the listener once it is back; returns how many rows went.
  enum class Erase { by_id, by_user };
  static std::string_view delete_sql(Erase kind) {
    return kind == Erase::by_id ? "WITH d AS (DELETE FROM postern_sessions WHERE id = $1 RETURNING id) "
                                  "SELECT pg_notify('postern_sessions', 'erase:' || id) FROM d"
                                : "WITH d AS (DELETE FROM postern_sessions WHERE user_id = $1 RETURNING id) "
                                  "SELECT pg_notify('postern_sessions', 'erase:' || id) FROM d";
  }

  std::size_t delete_sessions(Erase kind, std::string_view value) {
    const auto r = run({}, delete_sql(kind), {{value}}, store_write_timeout);
    if (r.ok()) return static_cast<std::size_t>(r.rows());
    std::lock_guard lock(pending_mutex_);
    if (pending_erases_.size() >= max_pending_erases) pending_erases_.pop_front();
    pending_erases_.emplace_back(kind, std::string(value));
    telemetry::log(telemetry::Level::warn, "session erase queued until PostgreSQL is back", {{"error", r.error()}});
    return 0;
  }

  void replay_erases(PgConnection& c) {
    std::deque<std::pair<Erase, std::string>> todo;
    {
      std::lock_guard lock(pending_mutex_);
      todo.swap(pending_erases_);
    }
    while (!todo.empty() && c.exec(delete_sql(todo.front().first), {{todo.front().second}}, store_write_timeout).ok())
      todo.pop_front();
    if (!todo.empty()) {
      std::lock_guard lock(pending_mutex_);
      for (auto it = todo.rbegin(); it != todo.rend(); ++it) pending_erases_.push_front(std::move(*it));
    }
  }

  // ---- reads and the cache ---------------------------------------------------------------------------------------
  std::shared_ptr<session::Session> read_one(std::string_view id, std::chrono::milliseconds timeout) const {
    const auto r = run({}, "SELECT data FROM postern_sessions WHERE id = $1", {{id}}, timeout);
    if (!r.ok()) return nullptr;
    if (r.rows() != 1) {
      std::unique_lock lock(mutex_);
      remember_absent_locked(std::string(id));
      return nullptr;
    }
    return open_session(r.bytes(0, 0), id, key_);
  }

  // Versions only move forward: a late notification never puts back an older record.
  void cache_put(SessionPtr s) const {
    std::unique_lock lock(mutex_);
    absent_.erase(s->id);
    auto& slot = sessions_[s->id];
    if (!slot || slot->version <= s->version) slot = std::move(s);
  }

  void cache_erase(const std::string& id) const {
    std::unique_lock lock(mutex_);
    sessions_.erase(id);
    remember_absent_locked(id);
  }

  void remember_absent_locked(const std::string& id) const {
    if (!absent_.insert(id).second) return;
    absent_order_.push_back(id);
    if (absent_order_.size() > max_absent) {
      absent_.erase(absent_order_.front());
      absent_order_.pop_front();
    }
  }

  // Every live session, read again: after (re)connecting, notifications sent meanwhile were lost.
  bool reload(PgConnection& c) {
    const std::string now = std::to_string(millis(Clock::now()));
    auto r = c.exec("SELECT id, data FROM postern_sessions WHERE expires_at_ms > $1", {{now}}, store_bulk_timeout);
    if (!r.ok()) return false;
    core::StringMap<SessionPtr> fresh;
    std::size_t unreadable = 0;
    for (int i = 0; i < r.rows(); ++i) {
      if (auto s = open_session(r.bytes(i, 1), r.text(i, 0), key_)) fresh.emplace(s->id, std::move(s));
      else ++unreadable;
    }
    if (unreadable)
      telemetry::log(telemetry::Level::warn, "sessions in PostgreSQL that this shared_secret cannot open were skipped",
                     {{"count", std::to_string(unreadable)}});
    std::unique_lock lock(mutex_);
    sessions_ = std::move(fresh);
    absent_.clear();
    absent_order_.clear();
    return true;
  }

  void apply(PgConnection& c, std::string_view payload) {
    if (payload.starts_with("erase:")) {
      cache_erase(std::string(payload.substr(6)));
      return;
    }
    if (!payload.starts_with("put:")) return;
    const auto rest = payload.substr(4);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return;
    const std::string id(rest.substr(0, colon));
    const std::uint64_t version = std::strtoull(std::string(rest.substr(colon + 1)).c_str(), nullptr, 10);
    {
      std::shared_lock lock(mutex_);
      if (auto it = sessions_.find(id); it != sessions_.end() && it->second->version >= version) return;
    }
    auto r = c.exec("SELECT data FROM postern_sessions WHERE id = $1", {{id}}, store_write_timeout);
    if (!r.ok() || r.rows() != 1) return;
    if (auto s = open_session(r.bytes(0, 0), id, key_)) cache_put(std::move(s));
  }

  void purge(PgConnection& c) {
    const auto now = Clock::now();
    const std::string at = std::to_string(millis(now));
    (void)c.exec("DELETE FROM postern_sessions WHERE expires_at_ms <= $1", {{at}}, store_bulk_timeout);
    (void)c.exec("DELETE FROM postern_markers WHERE expires_at <= now()", {}, store_bulk_timeout);
    std::unique_lock lock(mutex_);
    std::erase_if(sessions_, [&](const auto& s) { return s.second->expires_at <= now; });
  }

  Clock::time_point down_since() const {
    return Clock::time_point(std::chrono::milliseconds(down_since_ms_.load()));
  }

  // The listener thread: follows the change feed; reconnects with backoff, then reloads and replays erases.
  void listen(std::unique_ptr<PgConnection> conn) {
    auto wait = std::chrono::milliseconds(reconnect_first);
    auto last_purge = std::chrono::steady_clock::now();
    bool listening = false;
    std::vector<std::pair<std::string, std::string>> notes;
    while (!stopping_.load()) {
      if (!conn || !conn->healthy()) {
        listening = false;
        if (available_.exchange(false)) {
          down_since_ms_.store(millis(Clock::now()));
          telemetry::log(telemetry::Level::error, "lost the connection to PostgreSQL; reconnecting");
        }
        pool_.clear();
        std::string error;
        conn = PgConnection::connect(conninfo_, store_connect_timeout, error);
        if (!conn) {
          for (auto slept = 0ms; slept < wait && !stopping_.load(); slept += 50ms) std::this_thread::sleep_for(50ms);
          wait = std::min<std::chrono::milliseconds>(wait * 2, reconnect_max);
          continue;
        }
      }
      if (!listening) {
        if (!conn->exec("LISTEN " + std::string(channel), {}, store_write_timeout).ok() || !reload(*conn)) {
          conn.reset();
          continue;
        }
        listening = true;
        wait = reconnect_first;
        replay_erases(*conn);
        if (!available_.exchange(true))
          telemetry::log(telemetry::Level::info, "connected to PostgreSQL again; sessions reloaded");
      }
      notes.clear();
      if (!conn->wait_notifications(listener_tick, notes)) continue;
      for (const auto& [ch, payload] : notes)
        if (ch == channel) apply(*conn, payload);
      if (std::chrono::steady_clock::now() - last_purge >= purge_interval) {
        last_purge = std::chrono::steady_clock::now();
        purge(*conn);
      }
    }
  }

  std::string conninfo_;
  std::string key_;
  mutable PgPool pool_;
  mutable std::atomic<bool> available_{false};
  mutable std::atomic<std::int64_t> down_since_ms_{0};
  std::atomic<bool> stopping_{false};
  // The cache (reads may fill it, hence mutable).
  mutable std::shared_mutex mutex_;
  mutable core::StringMap<SessionPtr> sessions_;
  mutable std::unordered_set<std::string> absent_;
  mutable std::deque<std::string> absent_order_;
  std::mutex pending_mutex_;
  std::deque<std::pair<Erase, std::string>> pending_erases_;
  std::thread listener_;
};

}  // namespace

std::unique_ptr<SessionStore> make_postgres_store(const config::StoreSettings& settings,
                                                  std::string_view shared_secret) {
  return std::make_unique<PostgresStore>(settings.connection_string, session_sealing_key(shared_secret));
}

}  // namespace postern::store
