#include "directory/sync.h"

#include <algorithm>

#include "core/json.h"
#include "core/url.h"

namespace postern::directory {
namespace json = boost::json;

namespace {

GroupListing group_of(const json::object& o) {
  return GroupListing{core::json_string(o, "id"), profile_string(o, "name"),
                      parse_okta_time(core::json_string(o, "lastUpdated")),
                      parse_okta_time(core::json_string(o, "lastMembershipUpdated"))};
}

UserListing user_of(const json::object& o) {
  return UserListing{core::json_string(o, "id"), profile_string(o, "email"), core::json_string(o, "status"),
                     parse_okta_time(core::json_string(o, "lastUpdated"))};
}

// The newest of the timestamps a list returned: how far a complete list read when Okta sent no Date.
struct Newest {
  std::optional<OktaTime> t;
  void see(std::optional<OktaTime> x) {
    if (x && (!t || *x > *t)) t = x;
  }
};

// How far a complete list read: Okta's Date on its first page, else the newest timestamp it returned.
std::optional<OktaTime> read_through(const ListProgress& list, const Newest& newest) {
  if (list.first_date) return std::chrono::time_point_cast<std::chrono::milliseconds>(*list.first_date);
  return newest.t;
}

// Lists one group's members into the state; appends the users that changed.
net::Task<std::string> list_members(OktaClient& client, DirectoryState& state, const GroupListing& g,
                                    const RunDeadline& deadline, SyncResult& r, Newest& newest_user) {
  std::vector<DirectoryState::Index> members;
  ListProgress list;
  auto error = co_await client.each_object(
      client.org() + "/api/v1/groups/" + core::form_encode(g.id) + "/users?limit=1000", "a group's member list",
      [&](const json::object& o) {
        auto u = user_of(o);
        if (u.id.empty()) return;
        newest_user.see(u.last_updated);
        members.push_back(state.note_user(u));
      },
      &deadline, &list);
  r.calls += list.calls;
  if (!error.empty()) co_return error;
  auto changed = state.set_members(g, std::move(members));
  r.changed.insert(r.changed.end(), changed.begin(), changed.end());
  ++r.groups_listed;
  co_return std::string();
}

void settle(SyncResult& r) {
  std::sort(r.changed.begin(), r.changed.end());
  r.changed.erase(std::unique(r.changed.begin(), r.changed.end()), r.changed.end());
}

}  // namespace

net::Task<SyncResult> full_sync(OktaClient& client, DirectoryState& fresh, const RunDeadline& deadline) {
  SyncResult r;
  std::vector<GroupListing> groups;
  ListProgress list;
  Newest newest_group, newest_user;
  r.error = co_await client.each_object(
      client.org() + "/api/v1/groups?limit=200", "the group list",
      [&](const json::object& o) {
        auto g = group_of(o);
        if (g.id.empty()) return;
        newest_group.see(g.last_updated);
        newest_group.see(g.last_membership_updated);
        groups.push_back(std::move(g));
      },
      &deadline, &list);
  r.calls += list.calls;
  if (!r.ok()) co_return r;
  for (const auto& g : groups) {
    r.error = co_await list_members(client, fresh, g, deadline, r, newest_user);
    if (!r.ok()) co_return r;
  }
  // Every member list began after the group list did: the users' states are as new as the groups'.
  if (const auto t = read_through(list, newest_group)) fresh.groups_listed_through(*t);
  if (const auto t = read_through(list, newest_user)) fresh.users_listed_through(*t);
  r.changed.clear();  // everything is new: the caller publishes the whole state
  co_return r;
}

net::Task<SyncResult> delta_sync(OktaClient& client, DirectoryState& state, const RunDeadline& deadline) {
  SyncResult r;
  if (const auto filter = state.group_delta_filter()) {
    std::vector<GroupListing> moved;
    ListProgress list;
    Newest newest_group, unused;
    r.error = co_await client.each_object(
        client.org() + "/api/v1/groups?filter=" + core::form_encode(*filter) + "&limit=200", "the changed-group list",
        [&](const json::object& o) {
          auto g = group_of(o);
          if (g.id.empty()) return;
          newest_group.see(g.last_updated);
          newest_group.see(g.last_membership_updated);
          if (state.group_changed(g)) moved.push_back(std::move(g));
        },
        &deadline, &list);
    r.calls += list.calls;
    for (std::size_t i = 0; r.ok() && i < moved.size(); ++i)
      r.error = co_await list_members(client, state, moved[i], deadline, r, unused);
    if (r.ok())
      if (const auto t = read_through(list, newest_group)) state.groups_listed_through(*t);
  }
  if (r.ok())
    if (const auto filter = state.user_delta_filter()) {
      ListProgress list;
      Newest newest_user;
      r.error = co_await client.each_object(
          client.org() + "/api/v1/users?filter=" + core::form_encode(*filter) + "&limit=200", "the changed-user list",
          [&](const json::object& o) {
            const auto u = user_of(o);
            newest_user.see(u.last_updated);
            if (const auto i = state.update_user(u)) r.changed.push_back(*i);
          },
          &deadline, &list);
      r.calls += list.calls;
      if (r.ok())
        if (const auto t = read_through(list, newest_user)) state.users_listed_through(*t);
    }
  settle(r);
  co_return r;
}

}  // namespace postern::directory
