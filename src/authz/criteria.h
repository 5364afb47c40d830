#pragma once
// Building criteria with the text they read as in reasons; shared by the PPL parser and the legacy-key lowering.
#include <string>
#include <vector>

#include "authz/policy.h"

namespace postern::authz {

// accept, reject, authenticated_user, cors_preflight, pomerium_routes, invalid_client_certificate.
[[nodiscard]] Criterion simple_criterion(CriterionKind kind);
// user, email, domain, http_method, http_path.
[[nodiscard]] Criterion string_criterion(CriterionKind kind, StringMatcher m);
// groups (`path` empty) and claim/<path>.
[[nodiscard]] Criterion list_criterion(CriterionKind kind, std::string_view path, StringListMatcher m);
[[nodiscard]] Criterion source_ip_criterion(std::vector<core::IpRange> ranges);
[[nodiscard]] Criterion time_criterion(CriterionKind kind, TimeWindow window);

// The claim paths tried for `claim/<path>`: the path as written, then with '.' read as nesting ("a.b" → "a/b").
[[nodiscard]] std::vector<std::string> claim_lookup_paths(std::string_view path);

}  // namespace postern::authz
