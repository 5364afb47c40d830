#include "directory/directory_state.h"

#include <algorithm>
#include <charconv>

namespace postern::directory {

std::optional<OktaTime> parse_okta_time(std::string_view t) noexcept {
  // YYYY-MM-DDTHH:MM:SS[.fff…]Z
  auto num = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    if (at + len > t.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') return std::nullopt;
  const auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  std::size_t i = 19;
  int ms = 0;
  if (t[i] == '.') {
    int digits = 0;
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++digits)
      if (digits < 3) ms = ms * 10 + (t[i] - '0');
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (i + 1 != t.size() || t[i] != 'Z') return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(*y), std::chrono::month(static_cast<unsigned>(*mo)),
                                        std::chrono::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::hours(*h) + std::chrono::minutes(*mi) + std::chrono::seconds(*s) +
         std::chrono::milliseconds(ms);
}

std::string format_okta_time(OktaTime t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(t - day);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

bool DirectoryState::group_changed(const GroupListing& g) const {
  const auto it = group_index_.find(g.id);
  if (it == group_index_.end()) return true;
  const auto& known = groups_[it->second].listing;
  if (!g.last_updated || !g.last_membership_updated || !known.last_updated || !known.last_membership_updated)
    return true;  // without timestamps there is no telling: list it
  return *g.last_updated != *known.last_updated || *g.last_membership_updated != *known.last_membership_updated;
}

void DirectoryState::advance(std::optional<OktaTime>& mark, std::optional<OktaTime> t) {
  if (t && (!mark || *t > *mark)) mark = t;
}

std::optional<DirectoryState::Index> DirectoryState::user_index(std::string_view id) const noexcept {
  const auto it = user_index_.find(id);
  if (it == user_index_.end()) return std::nullopt;
  return it->second;
}

DirectoryState::Index DirectoryState::note_user(const UserListing& u) {
  auto [it, fresh] = user_index_.try_emplace(u.id, static_cast<Index>(users_.size()));
  if (fresh) users_.push_back(UserRecord{u.id, {}, {}, {}});
  auto& r = users_[it->second];
  if (!u.email.empty()) r.email = u.email;
  if (!u.status.empty()) r.status = u.status;
  return it->second;
}

std::optional<DirectoryState::Index> DirectoryState::update_user(const UserListing& u) {
  const auto it = user_index_.find(u.id);
  if (it == user_index_.end()) return std::nullopt;
  auto& r = users_[it->second];
  if ((u.status.empty() || u.status == r.status) && (u.email.empty() || u.email == r.email)) return std::nullopt;
  if (!u.status.empty()) r.status = u.status;
  if (!u.email.empty()) r.email = u.email;
  return it->second;
}

DirectoryState::Index DirectoryState::group_slot(const GroupListing& g) {
  auto [it, fresh] = group_index_.try_emplace(g.id, static_cast<Index>(groups_.size()));
  if (fresh) groups_.push_back(GroupRecord{GroupListing{g.id, g.name, {}, {}}, {}});
  return it->second;
}

std::vector<DirectoryState::Index> DirectoryState::set_members(const GroupListing& g, std::vector<Index> members) {
  const Index gi = group_slot(g);
  auto& group = groups_[gi];
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());

  std::vector<Index> changed;
  // The two sorted lists walked together: who left, who joined.
  auto old_it = group.members.begin(), new_it = members.begin();
  while (old_it != group.members.end() || new_it != members.end()) {
    if (new_it == members.end() || (old_it != group.members.end() && *old_it < *new_it)) {
      auto& gs = users_[*old_it].groups;
      gs.erase(std::lower_bound(gs.begin(), gs.end(), gi));
      changed.push_back(*old_it++);
    } else if (old_it == group.members.end() || *new_it < *old_it) {
      auto& gs = users_[*new_it].groups;
      gs.insert(std::lower_bound(gs.begin(), gs.end(), gi), gi);
      changed.push_back(*new_it++);
    } else {
      ++old_it, ++new_it;
    }
  }
  if (group.listing.name != g.name) changed = members;  // renamed: every member's names change
  group.members = std::move(members);
  group.members.shrink_to_fit();
  group.listing = g;
  std::sort(changed.begin(), changed.end());
  return changed;
}

DirectoryState::Index DirectoryState::set_user_groups(const UserListing& u, const std::vector<Group>& groups) {
  const Index ui = note_user(UserListing{u.id, u.email, u.status, std::nullopt});
  std::vector<Index> now;
  for (const auto& g : groups) {
    const Index gi = group_slot(GroupListing{g.id, g.name, {}, {}});
    if (groups_[gi].listing.name.empty()) groups_[gi].listing.name = g.name;
    now.push_back(gi);
  }
  std::sort(now.begin(), now.end());
  now.erase(std::unique(now.begin(), now.end()), now.end());
  auto& before = users_[ui].groups;
  for (const Index gi : before)
    if (!std::binary_search(now.begin(), now.end(), gi)) {
      auto& m = groups_[gi].members;
      if (const auto it = std::lower_bound(m.begin(), m.end(), ui); it != m.end() && *it == ui) m.erase(it);
    }
  for (const Index gi : now)
    if (!std::binary_search(before.begin(), before.end(), gi)) {
      auto& m = groups_[gi].members;
      m.insert(std::lower_bound(m.begin(), m.end(), ui), ui);
    }
  users_[ui].groups = std::move(now);
  return ui;
}

namespace {
std::optional<std::string> delta(std::optional<OktaTime> mark, std::initializer_list<std::string_view> fields) {
  if (!mark) return std::nullopt;
  const auto since = format_okta_time(*mark - DirectoryState::delta_margin);
  std::string out;
  for (const auto f : fields) {
    if (!out.empty()) out += " or ";
    out.append(f).append(" gt \"").append(since).append("\"");
  }
  return out;
}
}  // namespace

std::optional<std::string> DirectoryState::group_delta_filter() const {
  return delta(group_mark_, {"lastUpdated", "lastMembershipUpdated"});
}

std::optional<std::string> DirectoryState::user_delta_filter() const { return delta(user_mark_, {"lastUpdated"}); }

std::vector<User> DirectoryState::users(std::span<const Index> which) const {
  std::vector<User> out;
  out.reserve(which.size());
  for (const Index i : which) {
    const auto& r = users_[i];
    User u{r.id, r.email, r.status, {}};
    u.group_ids.reserve(r.groups.size());
    for (const Index g : r.groups) u.group_ids.push_back(groups_[g].listing.id);
    out.push_back(std::move(u));
  }
  return out;
}

std::vector<Group> DirectoryState::group_names(std::span<const Index> which) const {
  std::vector<Index> seen;
  for (const Index i : which) seen.insert(seen.end(), users_[i].groups.begin(), users_[i].groups.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  std::vector<Group> out;
  out.reserve(seen.size());
  for (const Index g : seen) out.push_back(Group{groups_[g].listing.id, groups_[g].listing.name});
  return out;
}

std::shared_ptr<const Snapshot> DirectoryState::snapshot() const {
  std::vector<Group> groups;
  groups.reserve(groups_.size());
  for (const auto& g : groups_) groups.push_back(Group{g.listing.id, g.listing.name});
  std::vector<IndexedUser> all;
  all.reserve(users_.size());
  for (const auto& r : users_) all.push_back(IndexedUser{r.id, r.email, r.status, r.groups});
  return std::make_shared<const Snapshot>(std::move(groups), std::move(all));
}

}  // namespace postern::directory
