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

// A user whose groups are given as positions in a group list (what the directory's state keeps: 4 bytes a membership).
struct IndexedUser {
  std::string id, email, status;
  std::vector<std::uint32_t> groups;
};

// Okta statuses whose users keep their access: a suspended or deactivated user keeps group memberships in Okta
// (rule-based groups even survive deactivation) but must have none for policy.
[[nodiscard]] bool status_grants_access(std::string_view status) noexcept;

class Snapshot {
 public:
  Snapshot() = default;
  // Users' group_ids name groups of `groups` (an id not among them is kept, nameless).
  Snapshot(std::vector<Group> groups, std::vector<User> users);
  // The same from positions in `groups` (every index must be < groups.size()).
  Snapshot(std::vector<Group> groups, std::vector<IndexedUser> users);

  // A copy in which the given users read as given (a delta run or a System Log event changed them): shares the full
  // sync's part with this one, so an update costs the size of the changes since, not of the directory. `group_names`
  // names groups the full sync had not seen.
  [[nodiscard]] std::shared_ptr<const Snapshot> with_users(const std::vector<User>& users,
                                                           const std::vector<Group>& group_names = {}) const;
  [[nodiscard]] std::shared_ptr<const Snapshot> with_user(const User& u,
                                                          const std::vector<Group>& group_names = {}) const {
    return with_users({u}, group_names);
  }

  // The user's groups (ids, then names). Once the directory has been read it is the authority: a user it does not
  // know, like one whose status does not grant access, is in no group (an empty set, never a fallback to the token).
  [[nodiscard]] const core::StringSet* groups_of(std::string_view user_id) const noexcept;
  [[nodiscard]] bool knows_user(std::string_view user_id) const noexcept;
  [[nodiscard]] std::optional<std::string_view> user_id_for_email(std::string_view email) const noexcept;
  [[nodiscard]] std::optional<std::string_view> group_name(std::string_view group_id) const noexcept;
  [[nodiscard]] std::size_t user_count() const noexcept { return base_ ? base_->users.size() : 0; }
  [[nodiscard]] std::size_t group_count() const noexcept { return base_ ? base_->groups.size() : 0; }
  [[nodiscard]] std::size_t membership_count() const noexcept { return base_ ? base_->memberships : 0; }
  // Users read as changed since the full sync this snapshot derives from.
  [[nodiscard]] std::size_t overlay_count() const noexcept { return overlay_ ? overlay_->size() : 0; }

 private:
  struct Entry {
    std::string status;
    core::StringSet groups;
  };
  struct Base {  // what a full sync read; shared by every snapshot derived from it
    std::vector<Group> groups;  // one copy of each id and name: the users' sets borrow views into it
    core::StringMap<std::uint32_t> group_index;
    core::StringMap<Entry> users;
    core::StringMap<std::string> emails;  // email → user id
    std::size_t memberships = 0;
  };
  void build(std::vector<Group> groups, std::vector<IndexedUser> users);
  using Overlay = core::StringMap<std::shared_ptr<const Entry>>;
  std::shared_ptr<const Base> base_;
  std::shared_ptr<const Overlay> overlay_;  // users changed since the full sync
};

}  // namespace postern::directory
