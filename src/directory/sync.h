#pragma once
// One full read of the Okta directory: every group (limit=200, following Link rel="next"), then each group's members
// with their status and email, into a Snapshot. Any failure (a refused token, a 5xx, the run's deadline) gives no
// snapshot: the caller keeps serving the last good one.
//
// Not yet (issue 10): incremental runs on lastUpdated / lastMembershipUpdated, the System Log watcher, the sign-in
// lookup of a new user's groups.
#include <chrono>
#include <memory>
#include <string>

#include "directory/okta_client.h"
#include "directory/snapshot.h"

namespace postern::directory {

struct SyncResult {
  std::shared_ptr<const Snapshot> snapshot;  // null on failure
  std::string error;
  std::uint64_t calls = 0;
};

[[nodiscard]] net::Task<SyncResult> full_sync(OktaClient& client, std::chrono::steady_clock::time_point deadline);

}  // namespace postern::directory
