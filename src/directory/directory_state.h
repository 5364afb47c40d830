#pragma once
// What the directory thread knows of the org between runs, so that a later run re-reads only what changed: every group
// with the two timestamps Okta gave it (lastUpdated, lastMembershipUpdated) and its members, every user seen (email,
// status, lastUpdated), and the watermarks for the next delta queries, taken from Okta's own timestamps, never from the
// local clock. Memberships are kept both ways as sorted indices (4 bytes each), not strings.
//
// The state is the truth; a Snapshot is derived from it, whole (snapshot()) or as the users one run changed
// (users()). Pure: no I/O, owned by the directory's thread.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_hash.h"
#include "directory/snapshot.h"

namespace postern::directory {

using OktaTime = std::chrono::sys_time<std::chrono::milliseconds>;

// "2026-12-05T09:20:00.000Z" (Okta's format; the fraction is optional) → time; nullopt otherwise.
[[nodiscard]] std::optional<OktaTime> parse_okta_time(std::string_view text) noexcept;
// The other way, always with milliseconds.
[[nodiscard]] std::string format_okta_time(OktaTime t);

// A group as a group list returned it.
struct GroupListing {
  std::string id, name;
  std::optional<OktaTime> last_updated, last_membership_updated;  // nullopt: Okta gave none we could read
};

// A user as a member list (or a user read) returned it.
struct UserListing {
  std::string id, email, status;
  std::optional<OktaTime> last_updated;
};

class DirectoryState {
 public:
  using Index = std::uint32_t;

  // How far before the watermark a delta query starts: a change Okta stamped shortly before a list began may not yet
  // have been visible to it. Groups the margin returns again are recognised by their unchanged timestamps and not
  // re-listed.
  static constexpr std::chrono::seconds delta_margin{60};

  // Whether a listed group must have its members (re-)listed: new, or a timestamp moved (or could not be read).
  [[nodiscard]] bool group_changed(const GroupListing& g) const;

  // Records a user (from a member list, a user list or a re-read); returns its index. Recording never moves a
  // watermark: only a complete listing does (see groups_listed_through), so a run that fails half-way cannot skip a
  // change it did not get to.
  Index note_user(const UserListing& u);

  // A user from the delta query on /api/v1/users: updates a user the state knows and says whether their status or
  // email changed (nullopt: unknown or unchanged). Unknown users are not added (they are in no group).
  std::optional<Index> update_user(const UserListing& u);

  // Records a group as listed with exactly these members (indices from note_user). Returns the users whose groups
  // changed (added to or removed from it), sorted.
  std::vector<Index> set_members(const GroupListing& g, std::vector<Index> members);

  // A user re-read on their own (a System Log event, a sign-in): their status, email and whole group list (ids and
  // names, as /users/{id}/groups gave them). Groups not seen before are added without timestamps, so the next
  // delta run lists them. Returns the user's index.
  Index set_user_groups(const UserListing& u, const std::vector<Group>& groups);

  // After a complete listing of the groups that moved (and of each one's members), or of the users that moved: every
  // change stamped up to `okta_time` − delta_margin has been read. `okta_time` is Okta's Date on the list's first
  // page, or, when Okta sent none, the newest timestamp the list returned. Never the local clock; never backwards.
  void groups_listed_through(OktaTime okta_time) { advance(group_mark_, okta_time); }
  void users_listed_through(OktaTime okta_time) { advance(user_mark_, okta_time); }

  // The filter of the next delta query on /api/v1/groups, or nullopt before the first complete listing.
  [[nodiscard]] std::optional<std::string> group_delta_filter() const;
  // The filter of the next delta query on /api/v1/users (status changes of users who stay in their groups).
  [[nodiscard]] std::optional<std::string> user_delta_filter() const;

  [[nodiscard]] std::shared_ptr<const Snapshot> snapshot() const;
  [[nodiscard]] std::vector<User> users(std::span<const Index> which) const;
  // The names of the given users' groups (for Snapshot::with_users).
  [[nodiscard]] std::vector<Group> group_names(std::span<const Index> which) const;

  [[nodiscard]] std::size_t user_count() const noexcept { return users_.size(); }
  [[nodiscard]] std::size_t group_count() const noexcept { return groups_.size(); }
  [[nodiscard]] std::optional<OktaTime> group_watermark() const noexcept { return group_mark_; }
  [[nodiscard]] std::optional<OktaTime> user_watermark() const noexcept { return user_mark_; }
  [[nodiscard]] std::optional<Index> user_index(std::string_view id) const noexcept;

  // The whole state as bytes, for the replicas that do not sync (directory_state_codec.cpp): groups with their
  // timestamps and members, users, watermarks. decode() returns null for anything encode() did not write.
  [[nodiscard]] std::string encode() const;
  [[nodiscard]] static std::unique_ptr<DirectoryState> decode(std::string_view bytes);

 private:
  struct GroupRecord {
    GroupListing listing;
    std::vector<Index> members;  // sorted
  };
  struct UserRecord {
    std::string id, email, status;
    std::vector<Index> groups;  // sorted group indices
  };
  Index group_slot(const GroupListing& g);
  static void advance(std::optional<OktaTime>& mark, std::optional<OktaTime> t);

  std::vector<GroupRecord> groups_;
  core::StringMap<Index> group_index_;
  std::vector<UserRecord> users_;
  core::StringMap<Index> user_index_;
  std::optional<OktaTime> group_mark_, user_mark_;
};

}  // namespace postern::directory
