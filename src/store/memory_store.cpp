#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "core/string_hash.h"
#include "store/session_store.h"

namespace postern::store {
namespace {

using session::Clock;


class MemoryStore final : public SessionStore {
 public:
  static constexpr std::size_t max_sessions = 1'000'000;
  static constexpr std::size_t max_markers = 200'000;

  void put(std::shared_ptr<const session::Session> s) override {
    std::unique_lock lock(mutex_);
    if (sessions_.size() >= max_sessions) purge_sessions_locked();
    sessions_[s->id] = std::move(s);
  }

  std::shared_ptr<const session::Session> get(std::string_view id) const override {
    std::shared_lock lock(mutex_);
    const auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->expires_at <= Clock::now()) return nullptr;
    return it->second;
  }

  void erase(std::string_view id) override {
    std::unique_lock lock(mutex_);
    if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
  }

  std::size_t erase_user(std::string_view user_id) override {
    std::unique_lock lock(mutex_);
    return std::erase_if(sessions_, [&](const auto& s) { return s.second->user_id == user_id; });
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

 private:
  void purge_sessions_locked() {
    const auto now = Clock::now();
    std::erase_if(sessions_, [&](const auto& s) { return s.second->expires_at <= now; });
    while (sessions_.size() >= max_sessions) {
      auto oldest = sessions_.begin();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->second->expires_at < oldest->second->expires_at) oldest = it;
      sessions_.erase(oldest);
    }
  }

  mutable std::shared_mutex mutex_;
  core::StringMap<std::shared_ptr<const session::Session>> sessions_;
  std::unordered_map<std::string, Clock::time_point> markers_;
};

}  // namespace

std::unique_ptr<SessionStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace postern::store
