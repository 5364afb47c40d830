#pragma once
// What the Okta directory knows, frozen: users (id, email, status) with their groups, and groups (id → name). Built
// off the data path by a sync and published whole; requests read it without locks. A user's groups are one
// core::StringSet holding the group ids, then their names (as Pomerium's v0.19 directory did), so the policy's
// `groups` criterion and `allowed_groups` match an Okta group by id or by name through the same view the token's
// claim fills today (authz::Subject::groups).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_hash.h"
#include "core/string_set.h"

namespace postern::directory {

struct Group {
  std::string id;    // 00g…
  std::string name;  // profile.name
};

struct User {
  std::string id;  // 00u…
  std::string email;
  std::string status;                  // ACTIVE, SUSPENDED, DEPROVISIONED, …
  std::vector<std::string> group_ids;  // memberships, as listed by Okta
};

// Okta statuses whose users keep their access: a suspended or deactivated user keeps group memberships in Okta
// (rule-based groups even survive deactivation) but must have none for policy.
[[nodiscard]] bool status_grants_access(std::string_view status) noexcept;

class Snapshot {
 public:
  Snapshot() = default;
  Snapshot(std::vector<Group> groups, std::vector<User> users);

  // A copy in which one user reads as `u` (a System Log event re-read them): shares everything else with this one,
  // so an update costs the size of the changes since the last full sync, not of the directory. `group_names` names
  // groups the full sync had not seen.
  [[nodiscard]] std::shared_ptr<const Snapshot> with_user(
      const User& u, const std::vector<Group>& group_names = {}) const;

  // The user's groups (ids, then names), or null when the directory does not know the user. A user whose status
  // does not grant access gets an empty set: known, and in no group.
  [[nodiscard]] const core::StringSet* groups_of(std::string_view user_id) const noexcept;
  [[nodiscard]] std::optional<std::string_view> user_id_for_email(std::string_view email) const noexcept;
  [[nodiscard]] std::optional<std::string_view> group_name(std::string_view group_id) const noexcept;
  [[nodiscard]] std::size_t user_count() const noexcept { return base_ ? base_->users.size() : 0; }
  [[nodiscard]] std::size_t group_count() const noexcept { return base_ ? base_->groups.size() : 0; }
  [[nodiscard]] std::size_t membership_count() const noexcept { return base_ ? base_->memberships : 0; }

 private:
  struct Entry {
    std::string status;
    core::StringSet groups;
  };
  static Entry entry_for(const User& u, const core::StringMap<std::string>& names,
                         const std::vector<Group>& more_names, std::size_t* memberships);
  struct Base {  // what a full sync read; shared by every snapshot derived from it
    core::StringMap<Entry> users;
    core::StringMap<std::string> groups;  // id → name
    core::StringMap<std::string> emails;  // email → user id
    std::size_t memberships = 0;
  };
  std::shared_ptr<const Base> base_;
  core::StringMap<Entry> overlay_;  // users re-read since the full sync (System Log events)
};

}  // namespace postern::directory
