#pragma once
// A session's claims (ID token merged with userinfo) indexed for policy: every value reachable through nested
// objects, up to five levels, filed under its path ("groups", "address/country"), as a list of strings. Built once
// when a session is made; looked up without allocating on every request.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/string_set.h"

namespace postern::session {

class Claims {
 public:
  static constexpr unsigned max_depth = 5;

  Claims() = default;
  // `json` is a JSON object; anything else gives no claims. Scalars become strings: true/false, numbers as JSON
  // writes them; null and objects inside lists are skipped.
  [[nodiscard]] static Claims from_json(std::string_view json);

  // Which paths sessions index, for the whole process: what the configuration's policies look up (their `claim/…`
  // criteria) plus "groups". Set at startup, before any session is made; never set (tests, `policy check`): every
  // path. An index holds only what policy can ask: the claims themselves stay in the session's claims_json. A
  // reload adds the paths its policies name (never removes any); sessions made before it lack the new paths until
  // they are refreshed or signed in again, so a new claim criterion denies them meanwhile (fails closed).
  static void index_only(std::vector<std::string> paths);

  // The values at `path` (segments joined with '/'); null when the claim is absent (or not indexed).
  [[nodiscard]] const core::StringSet* find(std::string_view path) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, core::StringSet>> entries_;  // sorted by path
};

}  // namespace postern::session
