#include "directory/snapshot.h"

namespace postern::directory {

bool status_grants_access(std::string_view status) noexcept {
  // PASSWORD_EXPIRED, LOCKED_OUT and RECOVERY users are still employees who will sign in again; STAGED and
  // PROVISIONED have never been active; SUSPENDED and DEPROVISIONED are cut off.
  return status == "ACTIVE" || status == "PASSWORD_EXPIRED" || status == "LOCKED_OUT" || status == "RECOVERY";
}

Snapshot::Snapshot(std::vector<Group> groups, std::vector<User> users) {
  groups_.reserve(groups.size());
  for (auto& g : groups) groups_.emplace(std::move(g.id), std::move(g.name));
  users_.reserve(users.size());
  for (auto& u : users) {
    std::vector<std::string> values;
    if (status_grants_access(u.status)) {
      values.reserve(u.group_ids.size() * 2);
      for (const auto& id : u.group_ids) values.push_back(id);
      for (const auto& id : u.group_ids)
        if (const auto it = groups_.find(id); it != groups_.end() && !it->second.empty()) values.push_back(it->second);
      memberships_ += u.group_ids.size();
    }
    if (!u.email.empty()) emails_.emplace(u.email, u.id);
    users_.insert_or_assign(std::move(u.id), Entry{std::move(u.status), core::StringSet(std::move(values))});
  }
}

const core::StringSet* Snapshot::groups_of(std::string_view user_id) const noexcept {
  const auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : &it->second.groups;
}

std::optional<std::string_view> Snapshot::user_id_for_email(std::string_view email) const noexcept {
  const auto it = emails_.find(email);
  if (it == emails_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<std::string_view> Snapshot::group_name(std::string_view group_id) const noexcept {
  const auto it = groups_.find(group_id);
  if (it == groups_.end()) return std::nullopt;
  return std::string_view(it->second);
}

}  // namespace postern::directory
