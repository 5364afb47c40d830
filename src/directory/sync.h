#pragma once
// The directory's runs against Okta's Management API (okta.md §2, §5):
// - full_sync reads everything into a fresh state: every group (limit=200, following Link rel="next"), then each
//   group's members (limit=1000, Okta's maximum for that list) with their status and email. It is also the periodic
//   reconcile that catches deleted groups and deprovisioned users, which no delta query returns.
// - delta_sync re-lists only what moved since the state's watermarks, which come from Okta's own timestamps: groups
//   whose lastUpdated or lastMembershipUpdated passed the group watermark (their members re-listed only when their
//   timestamps differ from the ones recorded), then users whose lastUpdated passed the user watermark (a status
//   change of someone who stays in their groups). A watermark moves only when its listing completed, to Okta's Date
//   on that listing's first page (what was visible to it), so a quiet org's delta queries return nothing and a run
//   that fails half-way re-reads what it did not get to.
// Neither blocks a worker: they run on the directory's thread.
#include <cstdint>
#include <string>
#include <vector>

#include "directory/directory_state.h"
#include "directory/okta_client.h"

namespace postern::directory {

struct SyncResult {
  std::string error;                             // empty on success
  std::uint64_t calls = 0;                       // this run's API calls
  std::size_t groups_listed = 0;                 // groups whose members were (re-)listed
  std::vector<DirectoryState::Index> changed;    // delta: users whose groups, status or email changed (sorted)
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// Fills `fresh` (an empty state). On failure `fresh` is incomplete and must be dropped.
[[nodiscard]] net::Task<SyncResult> full_sync(OktaClient& client, DirectoryState& fresh, const RunDeadline& deadline);

// Brings `state` forward. What it read before a failure is applied (and reported in `changed`): it is true.
[[nodiscard]] net::Task<SyncResult> delta_sync(OktaClient& client, DirectoryState& state, const RunDeadline& deadline);

}  // namespace postern::directory
