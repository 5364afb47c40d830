#include "directory/snapshot.h"

#include <memory>

namespace postern::directory {

bool status_grants_access(std::string_view status) noexcept {
  // PASSWORD_EXPIRED, LOCKED_OUT and RECOVERY users are still employees who will sign in again; STAGED and
  // PROVISIONED have never been active; SUSPENDED and DEPROVISIONED are cut off.
  return status == "ACTIVE" || status == "PASSWORD_EXPIRED" || status == "LOCKED_OUT" || status == "RECOVERY";
}

namespace {
const core::StringSet no_groups;
}

Snapshot::Snapshot(std::vector<Group> groups, std::vector<User> users) {
  // Ids the users name that the group list did not have are kept too, nameless.
  core::StringMap<std::uint32_t> index;
  index.reserve(groups.size());
  for (std::uint32_t i = 0; i < groups.size(); ++i) index.emplace(groups[i].id, i);
  std::vector<IndexedUser> indexed;
  indexed.reserve(users.size());
  for (auto& u : users) {
    IndexedUser x{std::move(u.id), std::move(u.email), std::move(u.status), {}};
    for (auto& id : u.group_ids) {
      auto [it, fresh] = index.try_emplace(id, static_cast<std::uint32_t>(groups.size()));
      if (fresh) groups.push_back(Group{std::move(id), {}});
      x.groups.push_back(it->second);
    }
    indexed.push_back(std::move(x));
  }
  build(std::move(groups), std::move(indexed));
}

Snapshot::Snapshot(std::vector<Group> groups, std::vector<IndexedUser> users) {
  build(std::move(groups), std::move(users));
}

void Snapshot::build(std::vector<Group> groups, std::vector<IndexedUser> users) {
  auto base = std::make_shared<Base>();
  // One copy of each id and name; the vector never moves once the sets borrow from it.
  base->groups = std::move(groups);
  base->groups.shrink_to_fit();
  base->group_index.reserve(base->groups.size());
  for (std::uint32_t i = 0; i < base->groups.size(); ++i) base->group_index.emplace(base->groups[i].id, i);

  base->users.reserve(users.size());
  base->emails.reserve(users.size());
  std::vector<std::string_view> values;
  for (auto& u : users) {
    values.clear();
    if (status_grants_access(u.status)) {
      for (const auto g : u.groups) values.push_back(base->groups[g].id);
      for (const auto g : u.groups)
        if (!base->groups[g].name.empty()) values.push_back(base->groups[g].name);
      base->memberships += u.groups.size();
    }
    if (!u.email.empty()) base->emails.emplace(std::move(u.email), u.id);
    base->users.insert_or_assign(std::move(u.id), Entry{std::move(u.status), core::StringSet::borrowing(values)});
  }
  base_ = std::move(base);
}

std::shared_ptr<const Snapshot> Snapshot::with_users(const std::vector<User>& users,
                                                     const std::vector<Group>& group_names) const {
  auto next = std::make_shared<Snapshot>();
  next->base_ = base_ ? base_ : std::make_shared<Base>();
  auto overlay = overlay_ ? std::make_shared<Overlay>(*overlay_) : std::make_shared<Overlay>();
  const auto& base = *next->base_;
  core::StringMap<std::string_view> names;  // the caller's names win over the full sync's (a renamed group)
  for (const auto& g : group_names)
    if (!g.name.empty()) names.insert_or_assign(g.id, g.name);
  for (const auto& u : users) {
    std::vector<std::string> values;
    if (status_grants_access(u.status)) {
      values.reserve(u.group_ids.size() * 2);
      for (const auto& id : u.group_ids) values.push_back(id);
      for (const auto& id : u.group_ids) {
        std::string_view name;
        if (const auto it = names.find(id); it != names.end()) name = it->second;
        else if (const auto b = base.group_index.find(id); b != base.group_index.end()) name = base.groups[b->second].name;
        if (!name.empty()) values.emplace_back(name);
      }
    }
    overlay->insert_or_assign(u.id, std::make_shared<const Entry>(Entry{u.status, core::StringSet(std::move(values))}));
  }
  next->overlay_ = std::move(overlay);
  return next;
}

const core::StringSet* Snapshot::groups_of(std::string_view user_id) const noexcept {
  if (overlay_)
    if (const auto it = overlay_->find(user_id); it != overlay_->end()) return &it->second->groups;
  if (!base_) return nullptr;
  const auto it = base_->users.find(user_id);
  return it == base_->users.end() ? &no_groups : &it->second.groups;
}

bool Snapshot::knows_user(std::string_view user_id) const noexcept {
  return (overlay_ && overlay_->contains(user_id)) || (base_ && base_->users.contains(user_id));
}

std::optional<std::string_view> Snapshot::user_id_for_email(std::string_view email) const noexcept {
  if (!base_) return std::nullopt;
  const auto it = base_->emails.find(email);
  if (it == base_->emails.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<std::string_view> Snapshot::group_name(std::string_view group_id) const noexcept {
  if (!base_) return std::nullopt;
  const auto it = base_->group_index.find(group_id);
  if (it == base_->group_index.end()) return std::nullopt;
  return std::string_view(base_->groups[it->second].name);
}

}  // namespace postern::directory
