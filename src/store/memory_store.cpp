#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/string_hash.h"
#include "store/session_store.h"

namespace postern::store {
namespace {

using session::Clock;
using SessionPtr = std::shared_ptr<const session::Session>;

class MemoryStore final : public SessionStore {
 public:
  static constexpr std::size_t max_sessions = 1'000'000;
  static constexpr std::size_t max_markers = 200'000;

  bool put(SessionPtr s) override {
    std::unique_lock lock(mutex_);
    if (sessions_.size() >= max_sessions && !sessions_.contains(s->id)) purge_sessions_locked();
    store_locked(std::move(s));
    return true;
  }

  bool replace(SessionPtr s, std::uint64_t expected_version) override {
    std::unique_lock lock(mutex_);
    const auto it = sessions_.find(s->id);
    if (it == sessions_.end() || it->second->version != expected_version) return false;
    store_locked(std::move(s));
    return true;
  }

  SessionPtr get(std::string_view id) const override {
    std::shared_lock lock(mutex_);
    const auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->expires_at <= Clock::now()) return nullptr;
    return it->second;
  }

  void erase(std::string_view id) override {
    std::unique_lock lock(mutex_);
    if (auto it = sessions_.find(id); it != sessions_.end()) {
      unschedule_locked(*it->second);
      sessions_.erase(it);
    }
  }

  std::size_t erase_user(std::string_view user_id) override {
    std::unique_lock lock(mutex_);
    return std::erase_if(sessions_, [&](const auto& s) {
      if (s.second->user_id != user_id) return false;
      unschedule_locked(*s.second);
      return true;
    });
  }

  bool claim_once(std::string_view key, std::chrono::seconds ttl) override {
    std::unique_lock lock(mutex_);
    const auto now = Clock::now();
    if (markers_.size() >= max_markers) {
      std::erase_if(markers_, [&](const auto& m) { return m.second <= now; });
      while (markers_.size() >= max_markers) markers_.erase(markers_.begin());
    }
    auto [it, inserted] = markers_.try_emplace(std::string(key), now + ttl);
    if (inserted) return true;
    if (it->second <= now) {
      it->second = now + ttl;
      return true;
    }
    return false;
  }

  // Also drops the expired sessions it meets (they sort first: a scheduled refresh is due before expires_at).
  std::vector<SessionPtr> due_for_refresh(Clock::time_point now, std::size_t limit) override {
    std::vector<SessionPtr> out;
    std::unique_lock lock(mutex_);
    for (auto it = due_.begin(); it != due_.end() && it->first <= now && out.size() < limit;) {
      const auto s = sessions_.find(it->second->id);
      if (s != sessions_.end() && s->second->expires_at > now) {
        out.push_back(s->second);
        ++it;
        continue;
      }
      if (s != sessions_.end()) sessions_.erase(s);
      it = due_.erase(it);
    }
    return out;
  }

  bool hold_lease(std::string_view, std::string_view, std::chrono::seconds) override { return true; }

  bool put_record(std::string_view name, std::string_view data) override {
    std::unique_lock lock(mutex_);
    auto& r = records_[std::string(name)];
    ++r.version;
    r.data.assign(data);
    return true;
  }

  std::optional<Record> record_newer_than(std::string_view name, std::uint64_t seen) override {
    std::shared_lock lock(mutex_);
    const auto it = records_.find(std::string(name));
    if (it == records_.end() || it->second.version <= seen) return std::nullopt;
    return it->second;
  }

 private:
  void unschedule_locked(const session::Session& s) {
    if (s.refresh_scheduled()) due_.erase({s.refresh_due_at, &s});
  }
  void store_locked(SessionPtr s) {
    auto& slot = sessions_[s->id];
    if (slot) unschedule_locked(*slot);
    if (s->refresh_scheduled()) due_.emplace(s->refresh_due_at, s.get());
    slot = std::move(s);
  }

  void purge_sessions_locked() {
    const auto now = Clock::now();
    std::erase_if(sessions_, [&](const auto& s) {
      if (s.second->expires_at > now) return false;
      unschedule_locked(*s.second);
      return true;
    });
    while (sessions_.size() >= max_sessions) {
      auto oldest = sessions_.begin();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->second->expires_at < oldest->second->expires_at) oldest = it;
      unschedule_locked(*oldest->second);
      sessions_.erase(oldest);
    }
  }

  mutable std::shared_mutex mutex_;
  core::StringMap<SessionPtr> sessions_;
  // (refresh_due_at, the record) of refreshable sessions; an entry goes before its record leaves sessions_.
  std::set<std::pair<Clock::time_point, const session::Session*>> due_;
  std::unordered_map<std::string, Clock::time_point> markers_;
  std::unordered_map<std::string, Record> records_;
};

}  // namespace

std::unique_ptr<SessionStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace postern::store
