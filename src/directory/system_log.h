#pragma once
// What the directory does about Okta System Log events (okta.md §4.2): a page of LogEvents in, actions out. Events
// that cut access (deactivation, suspension, lock, an admin clearing sessions) end the user's sessions at once;
// membership changes and events that restore access have the user re-read. Pure: no I/O here.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace postern::directory {

struct LogAction {
  enum class Kind { revoke, reread };
  Kind kind = Kind::reread;
  std::string user_id;     // 00u…
  std::string event_type;  // as Okta wrote it
  std::string status;      // revoke: the status the user now has (SUSPENDED, DEPROVISIONED, LOCKED_OUT, ACTIVE)
};

// The actions for one page of GET /api/v1/logs (a JSON array), in order; events about nobody, or about things
// other than users and memberships, give none. A body that is not an array gives none.
[[nodiscard]] std::vector<LogAction> system_log_actions(std::string_view body);

// The `since` of the first poll: `t` as Okta writes times ("2026-12-05T09:20:00.000Z").
[[nodiscard]] std::string okta_time(std::chrono::system_clock::time_point t);

}  // namespace postern::directory
