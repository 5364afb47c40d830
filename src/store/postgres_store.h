#pragma once
// The PostgreSQL store (databroker_storage_type: postgres), shared by every replica:
//  - schema created and migrated by Postern (table postern_schema holds the version; one replica migrates at a time
//    under an advisory lock; a newer schema than this binary knows refuses to start);
//  - each write is one transactional statement that also NOTIFYs channel postern_sessions, so every replica's cache
//    learns of a put or an erase within milliseconds (a listener thread per process follows the channel and, after a
//    lost connection, reloads the whole cache);
//  - workers read sessions from that cache: the hot path never waits on the database for a session it has cached;
//    a miss (a session signed in on another replica a moment ago) costs one primary-key read, bounded by a deadline;
//  - records are sealed (session_codec.h) with a key derived from shared_secret;
//  - leases (background work on one replica) are rows with a holder and an expiry.
// Without the database: cached sessions keep working for `cache_grace`, writes fail (sign-in shows "try again
// shortly"), erases are queued and replayed once it is back, the listener reconnects with backoff.
#include <memory>
#include <stdexcept>
#include <string>

#include "config/settings.h"
#include "store/session_store.h"

namespace postern::store {

// Thrown at startup: the database cannot be reached within the startup deadline, or its schema is newer than this
// binary's. The message names the problem, never the password.
struct StoreStartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The schema version this binary writes.
inline constexpr int postgres_schema_version = 2;

[[nodiscard]] std::unique_ptr<SessionStore> make_postgres_store(const config::StoreSettings& settings,
                                                                std::string_view shared_secret);

}  // namespace postern::store
