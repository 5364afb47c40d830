#include "directory/snapshot.h"

#include <memory>

namespace postern::directory {

bool status_grants_access(std::string_view status) noexcept {
  // PASSWORD_EXPIRED, LOCKED_OUT and RECOVERY users are still employees who will sign in again; STAGED and
  // PROVISIONED have never been active; SUSPENDED and DEPROVISIONED are cut off.
  return status == "ACTIVE" || status == "PASSWORD_EXPIRED" || status == "LOCKED_OUT" || status == "RECOVERY";
}

Snapshot::Entry Snapshot::entry_for(const User& u, const core::StringMap<std::string>& names,
                                    const std::vector<Group>& more_names, std::size_t* memberships) {
  std::vector<std::string> values;
  if (status_grants_access(u.status)) {
    values.reserve(u.group_ids.size() * 2);
    for (const auto& id : u.group_ids) values.push_back(id);
    for (const auto& id : u.group_ids) {
      if (const auto it = names.find(id); it != names.end() && !it->second.empty()) {
        values.push_back(it->second);
        continue;
      }
      for (const auto& g : more_names)
        if (g.id == id && !g.name.empty()) values.push_back(g.name);
    }
    if (memberships) *memberships += u.group_ids.size();
  }
  return Entry{u.status, core::StringSet(std::move(values))};
}

Snapshot::Snapshot(std::vector<Group> groups, std::vector<User> users) {
  auto base = std::make_shared<Base>();
  base->groups.reserve(groups.size());
  for (auto& g : groups) base->groups.emplace(std::move(g.id), std::move(g.name));
  base->users.reserve(users.size());
  for (auto& u : users) {
    if (!u.email.empty()) base->emails.emplace(u.email, u.id);
    auto entry = entry_for(u, base->groups, {}, &base->memberships);
    base->users.insert_or_assign(std::move(u.id), std::move(entry));
  }
  base_ = std::move(base);
}

std::shared_ptr<const Snapshot> Snapshot::with_user(const User& u, const std::vector<Group>& group_names) const {
  auto next = std::make_shared<Snapshot>();
  next->base_ = base_ ? base_ : std::make_shared<Base>();
  next->overlay_ = overlay_;
  next->overlay_.insert_or_assign(u.id, entry_for(u, next->base_->groups, group_names, nullptr));
  return next;
}

const core::StringSet* Snapshot::groups_of(std::string_view user_id) const noexcept {
  if (const auto it = overlay_.find(user_id); it != overlay_.end()) return &it->second.groups;
  if (!base_) return nullptr;
  const auto it = base_->users.find(user_id);
  return it == base_->users.end() ? nullptr : &it->second.groups;
}

std::optional<std::string_view> Snapshot::user_id_for_email(std::string_view email) const noexcept {
  if (!base_) return std::nullopt;
  const auto it = base_->emails.find(email);
  if (it == base_->emails.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<std::string_view> Snapshot::group_name(std::string_view group_id) const noexcept {
  if (!base_) return std::nullopt;
  const auto it = base_->groups.find(group_id);
  if (it == base_->groups.end()) return std::nullopt;
  return std::string_view(it->second);
}

}  // namespace postern::directory
