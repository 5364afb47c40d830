// DirectoryState as bytes (DirectoryState::encode / decode): what the replica holding the directory lease writes to
// the shared store after each run and the other replicas read. A compact, versioned format: strings with a varint
// length, each group's members as varint gaps between sorted indices (a user's groups are rebuilt from them: the
// two sides are kept symmetric). Decoding checks every length and index: a truncated or foreign record is refused.
#include <algorithm>

#include "directory/directory_state.h"

namespace postern::directory {
namespace {

constexpr std::string_view magic = "postern directory state v1\n";
constexpr std::int64_t no_time = -1;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}
void put_time(std::string& out, const std::optional<OktaTime>& t) {
  // Shifted by one so "none" (-1) is 0.
  put_varint(out, static_cast<std::uint64_t>((t ? t->time_since_epoch().count() : no_time) + 1));
}

struct Reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) break;
      const auto byte = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string string() {
    const auto n = varint();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  std::optional<OktaTime> time() {
    const auto v = static_cast<std::int64_t>(varint()) - 1;
    if (!ok || v == no_time) return std::nullopt;
    return OktaTime(std::chrono::milliseconds(v));
  }
};

}  // namespace

std::string DirectoryState::encode() const {
  std::string out(magic);
  put_time(out, group_mark_);
  put_time(out, user_mark_);
  put_varint(out, users_.size());
  for (const auto& u : users_) {
    put_string(out, u.id);
    put_string(out, u.email);
    put_string(out, u.status);
  }
  put_varint(out, groups_.size());
  for (const auto& g : groups_) {
    put_string(out, g.listing.id);
    put_string(out, g.listing.name);
    put_time(out, g.listing.last_updated);
    put_time(out, g.listing.last_membership_updated);
    put_varint(out, g.members.size());
    Index previous = 0;
    for (const Index m : g.members) {
      put_varint(out, m - previous);
      previous = m;
    }
  }
  return out;
}

std::unique_ptr<DirectoryState> DirectoryState::decode(std::string_view bytes) {
  if (!bytes.starts_with(magic)) return nullptr;
  Reader r{bytes.substr(magic.size())};
  auto s = std::make_unique<DirectoryState>();
  s->group_mark_ = r.time();
  s->user_mark_ = r.time();
  const auto users = r.varint();
  if (!r.ok || users > r.in.size()) return nullptr;  // each user takes at least three bytes
  s->users_.reserve(users);
  for (std::uint64_t i = 0; i < users && r.ok; ++i) {
    UserRecord u;
    u.id = r.string();
    u.email = r.string();
    u.status = r.string();
    if (!r.ok || u.id.empty() || !s->user_index_.emplace(u.id, static_cast<Index>(i)).second) return nullptr;
    s->users_.push_back(std::move(u));
  }
  const auto groups = r.varint();
  if (!r.ok || groups > r.in.size()) return nullptr;
  s->groups_.reserve(groups);
  for (std::uint64_t gi = 0; gi < groups && r.ok; ++gi) {
    GroupRecord g;
    g.listing.id = r.string();
    g.listing.name = r.string();
    g.listing.last_updated = r.time();
    g.listing.last_membership_updated = r.time();
    const auto members = r.varint();
    if (!r.ok || members > users) return nullptr;
    g.members.reserve(members);
    std::uint64_t index = 0;
    for (std::uint64_t m = 0; m < members; ++m) {
      const auto gap = r.varint();
      if (!r.ok || (m > 0 && gap == 0)) return nullptr;  // sorted and unique
      index += gap;
      if (index >= users) return nullptr;
      g.members.push_back(static_cast<Index>(index));
      s->users_[index].groups.push_back(static_cast<Index>(gi));  // groups in index order: sorted
    }
    if (g.listing.id.empty() || !s->group_index_.emplace(g.listing.id, static_cast<Index>(gi)).second) return nullptr;
    s->groups_.push_back(std::move(g));
  }
  if (!r.ok || !r.in.empty()) return nullptr;
  return s;
}

}  // namespace postern::directory
