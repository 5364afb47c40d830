#pragma once
// The record store behind sessions, one interface for every backend: `memory` (one process; memory_store.cpp) and
// PostgreSQL (shared by replicas; postgres_store.h). Implementations are thread-safe; workers call them directly.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session/session.h"

namespace postern::store {

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  // False when it could not be stored (the shared database is unreachable): the caller says "try again shortly".
  [[nodiscard]] virtual bool put(std::shared_ptr<const session::Session> s) = 0;
  // Stores `s` only when the stored session with its id is still at `expected_version` (a refresh writing its
  // result): false when it changed or ended meanwhile, and then nothing is written.
  [[nodiscard]] virtual bool replace(std::shared_ptr<const session::Session> s, std::uint64_t expected_version) = 0;
  // The session, or null when unknown or expired.
  [[nodiscard]] virtual std::shared_ptr<const session::Session> get(std::string_view id) const = 0;
  virtual void erase(std::string_view id) = 0;
  // Ends every session of a user (the IdP deactivated or suspended them); returns how many there were.
  virtual std::size_t erase_user(std::string_view user_id) = 0;
  // One-time markers (handoffs, sign-in states, a refresh in flight): true only the first time `key` is claimed
  // within `ttl`.
  [[nodiscard]] virtual bool claim_once(std::string_view key, std::chrono::seconds ttl) = 0;
  // Sessions whose refresh is due at or before `now`, earliest first, at most `limit`.
  [[nodiscard]] virtual std::vector<std::shared_ptr<const session::Session>> due_for_refresh(
      session::Clock::time_point now, std::size_t limit) = 0;
  // Background work (refresh scheduling, directory sync) runs where this is true: `holder` holds lease `name` for
  // `ttl` from now (taken when free or expired, renewed when already held). One process alone always holds it.
  [[nodiscard]] virtual bool hold_lease(std::string_view name, std::string_view holder, std::chrono::seconds ttl) = 0;
  // Gives lease `name` up when `holder` has it (a clean shutdown), so another process takes it at once.
  virtual void release_lease(std::string_view name, std::string_view holder) { (void)name, (void)holder; }
  // Named records shared by replicas (the Okta directory's state): written by the process holding the matching
  // lease, read by the others. put_record bumps the record's version; false when it could not be written.
  struct Record {
    std::uint64_t version = 0;
    std::string data;
  };
  [[nodiscard]] virtual bool put_record(std::string_view name, std::string_view data) = 0;
  // The record when its version is newer than `seen` (0: any version); nullopt when it is not (or unreachable).
  [[nodiscard]] virtual std::optional<Record> record_newer_than(std::string_view name, std::uint64_t seen) = 0;
  // False while a shared store cannot reach its database (writes and claims then fail; cached reads go on).
  [[nodiscard]] virtual bool available() const { return true; }
};

// In-process store; bounded (sessions and markers past their expiry are purged; past the caps the oldest expiry
// goes first).
[[nodiscard]] std::unique_ptr<SessionStore> make_memory_store();

}  // namespace postern::store
