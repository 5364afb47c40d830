#include "session/claims.h"

#include <atomic>
#include <memory>
#include <mutex>

#include <algorithm>
#include <charconv>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace postern::session {
namespace json = boost::json;

namespace {

// Set at startup (Claims::index_only) and grown by reloads that add claim criteria; read by every from_json. Each
// version is immutable and never freed (a reload only adds one when a new claim path appears), so a reader holding
// an old pointer stays valid.
std::atomic<const std::vector<std::string>*> indexed_paths{nullptr};

// Whether `path` (or a path below it) is indexed.
bool wanted(const std::string& path, bool prefix_only) {
  const auto* paths = indexed_paths.load(std::memory_order_acquire);
  if (!paths) return true;
  for (const auto& p : *paths) {
    if (p == path) return true;
    if (prefix_only && p.size() > path.size() && p.starts_with(path) && p[path.size()] == '/') return true;
  }
  return false;
}

bool scalar_text(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::string: out.assign(v.get_string()); return true;
    case json::kind::bool_: out = v.get_bool() ? "true" : "false"; return true;
    case json::kind::int64: out = std::to_string(v.get_int64()); return true;
    case json::kind::uint64: out = std::to_string(v.get_uint64()); return true;
    case json::kind::double_: {
      // Shortest form that reads back the same ("1.5", "2"), not Boost.JSON's "1.5E0".
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
      out.assign(buf, r.ptr);
      return true;
    }
    default: return false;
  }
}

void flatten(const json::object& o, const std::string& prefix, unsigned depth,
             std::vector<std::pair<std::string, core::StringSet>>& out) {
  for (const auto& member : o) {
    std::string path = prefix.empty() ? std::string(member.key()) : prefix + "/" + std::string(member.key());
    const json::value& v = member.value();
    std::vector<std::string> values;
    std::string text;
    if (v.is_object()) {
      if (depth + 1 < Claims::max_depth && wanted(path, true)) flatten(v.get_object(), path, depth + 1, out);
      continue;
    }
    if (!wanted(path, false)) continue;
    if (v.is_array()) {
      for (const auto& item : v.get_array())
        if (scalar_text(item, text)) values.push_back(text);
    } else if (scalar_text(v, text)) {
      values.push_back(std::move(text));
    } else {
      continue;  // null
    }
    out.emplace_back(std::move(path), core::StringSet(std::move(values)));
  }
}

}  // namespace

void Claims::index_only(std::vector<std::string> paths) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<const std::vector<std::string>>> versions;
  std::lock_guard lock(mutex);
  const auto* current = indexed_paths.load(std::memory_order_acquire);
  auto next = std::make_unique<std::vector<std::string>>(current ? *current : std::vector<std::string>{"groups"});
  const std::size_t before = next->size();
  for (auto& p : paths)
    if (std::find(next->begin(), next->end(), p) == next->end()) next->push_back(std::move(p));
  if (current && next->size() == before) return;  // nothing new: keep the published version
  indexed_paths.store(next.get(), std::memory_order_release);
  versions.push_back(std::move(next));
}

Claims Claims::from_json(std::string_view text) {
  Claims c;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return c;
  flatten(v.get_object(), {}, 0, c.entries_);
  std::stable_sort(c.entries_.begin(), c.entries_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // A literal key "a/b" and a nested a → b land on the same path: the first one kept wins.
  c.entries_.erase(std::unique(c.entries_.begin(), c.entries_.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   c.entries_.end());
  return c;
}

const core::StringSet* Claims::find(std::string_view path) const noexcept {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path,
                                   [](const auto& e, std::string_view p) { return e.first < p; });
  if (it == entries_.end() || it->first != path) return nullptr;
  return &it->second;
}

}  // namespace postern::session
