#include "directory/sync.h"

#include <boost/json/parse.hpp>

#include <unordered_map>

#include "core/json.h"

namespace postern::directory {
namespace json = boost::json;

namespace {

// The objects of a page (a JSON array), or nullopt when the body is not one.
std::optional<json::array> page_items(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_array()) return std::nullopt;
  return std::move(v.as_array());
}

std::string profile_string(const json::object& o, std::string_view key) {
  const auto* p = o.if_contains("profile");
  if (!p || !p->is_object()) return {};
  return core::json_string(p->as_object(), key);
}

}  // namespace

net::Task<SyncResult> full_sync(OktaClient& client, std::chrono::steady_clock::time_point deadline) {
  SyncResult result;  // result.calls counts this sync's calls (the System Log watcher shares the client)
  auto fail = [&](std::string why) {
    result.error = std::move(why);
    return std::move(result);
  };
  std::vector<Group> groups;
  std::optional<std::string> url = client.org() + "/api/v1/groups?limit=200";
  while (url) {
    if (std::chrono::steady_clock::now() > deadline) co_return fail("the sync ran past idp_refresh_directory_timeout");
    ++result.calls;
    auto page = co_await client.get(*url);
    if (!page.ok()) co_return fail(page.error);
    auto items = page_items(page.body);
    if (!items) co_return fail("the group list is not a JSON array");
    for (const auto& item : *items) {
      if (!item.is_object()) continue;
      const auto& o = item.as_object();
      Group g{core::json_string(o, "id"), profile_string(o, "name")};
      if (!g.id.empty()) groups.push_back(std::move(g));
    }
    url = std::move(page.next);
  }

  std::unordered_map<std::string, User> users;
  for (const auto& g : groups) {
    url = client.org() + "/api/v1/groups/" + g.id + "/users?limit=200";
    while (url) {
      if (std::chrono::steady_clock::now() > deadline) co_return fail("the sync ran past idp_refresh_directory_timeout");
      ++result.calls;
      auto page = co_await client.get(*url);
      if (!page.ok()) co_return fail(page.error);
      auto items = page_items(page.body);
      if (!items) co_return fail("a group's member list is not a JSON array");
      for (const auto& item : *items) {
        if (!item.is_object()) continue;
        const auto& o = item.as_object();
        const std::string id = core::json_string(o, "id");
        if (id.empty()) continue;
        auto& u = users[id];
        if (u.id.empty()) {
          u.id = id;
          u.status = core::json_string(o, "status");
          u.email = profile_string(o, "email");
        }
        u.group_ids.push_back(g.id);
      }
      url = std::move(page.next);
    }
  }
  std::vector<User> list;
  list.reserve(users.size());
  for (auto& [id, u] : users) list.push_back(std::move(u));
  result.snapshot = std::make_shared<const Snapshot>(std::move(groups), std::move(list));
  co_return result;
}

}  // namespace postern::directory
