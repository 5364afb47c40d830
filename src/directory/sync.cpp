#include "directory/sync.h"

#include <unordered_map>

#include "core/json.h"

namespace postern::directory {
namespace json = boost::json;

net::Task<SyncResult> full_sync(OktaClient& client, std::chrono::steady_clock::time_point deadline) {
  SyncResult result;  // result.calls counts this sync's calls (the System Log watcher shares the client)
  std::vector<Group> groups;
  result.error = co_await client.each_object(
      client.org() + "/api/v1/groups?limit=200", "the group list",
      [&](const json::object& o) {
        Group g{core::json_string(o, "id"), profile_string(o, "name")};
        if (!g.id.empty()) groups.push_back(std::move(g));
      },
      deadline, &result.calls);
  if (!result.error.empty()) co_return result;

  std::unordered_map<std::string, User> users;
  for (const auto& g : groups) {
    result.error = co_await client.each_object(
        client.org() + "/api/v1/groups/" + g.id + "/users?limit=200", "a group's member list",
        [&](const json::object& o) {
          const std::string id = core::json_string(o, "id");
          if (id.empty()) return;
          auto& u = users[id];
          if (u.id.empty()) {
            u.id = id;
            u.status = core::json_string(o, "status");
            u.email = profile_string(o, "email");
          }
          u.group_ids.push_back(g.id);
        },
        deadline, &result.calls);
    if (!result.error.empty()) co_return result;
  }
  std::vector<User> list;
  list.reserve(users.size());
  for (auto& [id, u] : users) list.push_back(std::move(u));
  result.snapshot = std::make_shared<const Snapshot>(std::move(groups), std::move(list));
  co_return result;
}

}  // namespace postern::directory
