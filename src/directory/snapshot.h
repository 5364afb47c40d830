#pragma once
// What the Okta directory knows, frozen: users (id, email, status) with their groups, and groups (id → name). Built
// off the data path by a sync and published whole; requests read it without locks. A user's groups are one
// core::StringSet holding the group ids, then their names (as Pomerium's v0.19 directory did), so the policy's
// `groups` criterion and `allowed_groups` match an Okta group by id or by name through the same view the token's
// claim fills today (authz::Subject::groups).
#include <cstdint>
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

  // The user's groups (ids, then names), or null when the directory does not know the user. A user whose status
  // does not grant access gets an empty set: known, and in no group.
  [[nodiscard]] const core::StringSet* groups_of(std::string_view user_id) const noexcept;
  [[nodiscard]] std::optional<std::string_view> user_id_for_email(std::string_view email) const noexcept;
  [[nodiscard]] std::optional<std::string_view> group_name(std::string_view group_id) const noexcept;
  [[nodiscard]] std::size_t user_count() const noexcept { return users_.size(); }
  [[nodiscard]] std::size_t group_count() const noexcept { return groups_.size(); }
  [[nodiscard]] std::size_t membership_count() const noexcept { return memberships_; }

 private:
  struct Entry {
    std::string status;
    core::StringSet groups;
  };
  core::StringMap<Entry> users_;
  core::StringMap<std::string> groups_;  // id → name
  core::StringMap<std::string> emails_;  // email → user id
  std::size_t memberships_ = 0;
};

}  // namespace postern::directory
