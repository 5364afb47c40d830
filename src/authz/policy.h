#pragma once
// A route's authorization policy, compiled: Pomerium's policy language (PPL) and the legacy allow keys lowered onto
// it, held as flat arrays of rules, operators and criteria. Built once per configuration (policy_parser.h,
// legacy_rules.h); evaluated for every request without allocating or locking.
//
// Evaluation uses three-valued logic: a criterion about the user (user, email, domain, groups, claim/…,
// authenticated_user) is *unknown* when the request has no session. Operators combine as Kleene logic does (and:
// false wins, then unknown; or: true wins, then unknown), so a request is sent to sign in only when who the user is
// could change the answer; when no identity could (a method every rule refuses), it is denied at once. With a session
// nothing is unknown and the semantics are Pomerium's exactly: deny wins, no allow means deny, `not` = none of its
// criteria true, `nor` = not all true, several operators in one rule OR-ed.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "authz/matchers.h"
#include "authz/time_window.h"
#include "core/ip_address.h"
#include "core/string_set.h"
#include "session/claims.h"

namespace postern::authz {

enum class Tri : std::uint8_t { no = 0, yes = 1, unknown = 2 };
[[nodiscard]] std::string_view to_string(Tri t) noexcept;

// Who is asking. The groups are a per-request view: today the session's `groups` claim; the Okta directory supplies
// its own set (ids and names) through the same pointer. The engine does not care where they came from.
struct Subject {
  std::string_view user_id;
  std::string_view email;
  const core::StringSet* groups = nullptr;   // null: no groups known
  const session::Claims* claims = nullptr;  // null: no claims
};

// The client certificate the request's connection presented (downstream mTLS), as policy sees it.
struct ClientCertificate {
  bool presented = false;
  bool valid = false;  // chained to a trusted CA, not revoked, within the depth, matching the SAN rules
  std::string_view fingerprint;  // SHA-256 of the DER, lower-case hex
  std::string_view spki_hash;    // SHA-256 of the SubjectPublicKeyInfo, base64
  std::span<const std::string> san_dns, san_email, san_uri;
};

// Everything a policy may look at, for one request.
struct Input {
  const Subject* subject = nullptr;  // null: the request carries no (valid) session
  std::string_view method;
  std::string_view path;  // normalised (see config::normalize_path)
  std::optional<core::IpAddress> source_ip;  // the client, after xff_num_trusted_hops
  bool cors_preflight = false;                // OPTIONS with Origin and Access-Control-Request-Method
  TimePoint now{};                           // read by date / day_of_week / time_of_day
  const ClientCertificate* client_certificate = nullptr;  // null: the connection presented none
};

enum class CriterionKind : std::uint8_t {
  accept, reject, authenticated_user, user, email, domain, groups, claim, http_method, http_path, cors_preflight,
  source_ip, date, day_of_week, time_of_day, pomerium_routes, client_certificate, invalid_client_certificate
};
[[nodiscard]] std::string_view criterion_name(CriterionKind k) noexcept;

struct Criterion {
  CriterionKind kind = CriterionKind::reject;
  std::string text;  // how it reads in reasons: `email is "alice@example.com"`, `claim/dept has "eng"`
  StringMatcher string;      // user, email, domain, http_method, http_path
  StringListMatcher list;    // groups, claim
  std::vector<std::string> claim_paths;  // claim: paths tried in order ("a.b" → "a.b", then "a/b")
  std::vector<core::IpRange> ranges;     // source_ip
  TimeWindow time;                       // date, day_of_week, time_of_day
  // client_certificate (Pomerium's certificate matcher): every condition given must hold; fingerprints (hex,
  // lower case) and SPKI hashes (base64) as lists, each SAN matcher against any SAN of its type.
  std::vector<std::string> fingerprints, spki_hashes;
  std::vector<std::pair<std::uint8_t, StringMatcher>> san_matchers;  // 0 dns, 1 email, 2 uri
  [[nodiscard]] bool about_user() const noexcept;
};

enum class Action : std::uint8_t { allow, deny };
enum class OperatorKind : std::uint8_t { and_, or_, not_, nor };
[[nodiscard]] std::string_view operator_name(OperatorKind k) noexcept;

// The source form the parser and the legacy lowering produce; Policy flattens it.
struct OperatorSpec {
  OperatorKind kind = OperatorKind::or_;
  std::vector<Criterion> criteria;
};
struct RuleSpec {
  Action action = Action::allow;
  std::string origin;  // where it was written: "policy[1]", "allowed_users, allowed_domains"
  std::vector<OperatorSpec> operators;  // OR-ed
};

enum class Outcome : std::uint8_t { allow, deny, sign_in_required };
[[nodiscard]] std::string_view to_string(Outcome o) noexcept;

// A decision and what it rests on: the value of the allow and deny sides, the rule that decided (when one did), and
// which of the first 64 criteria were evaluated and what they gave.
struct Decision {
  static constexpr std::size_t traced = 64;
  Outcome outcome = Outcome::deny;
  Tri allow = Tri::no;
  Tri deny = Tri::no;
  int rule = -1;  // the deny rule that held, or (allowed) the allow rule that held; -1: none
  std::uint64_t evaluated = 0, held = 0, unknown = 0;
  // A criterion could not be evaluated (no parseable client address for source_ip, a time zone that failed): the
  // request is denied whatever the rules say, since a deny rule reading "false" would otherwise fail open.
  bool indeterminate = false;
};

class Policy {
 public:
  Policy() = default;  // no rules: denies everyone
  explicit Policy(std::vector<RuleSpec> rules);

  [[nodiscard]] Decision evaluate(const Input& in) const noexcept;

  [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }
  [[nodiscard]] bool uses_user() const noexcept { return uses_user_; }           // needs the session looked up
  [[nodiscard]] bool uses_source_ip() const noexcept { return uses_source_ip_; }
  [[nodiscard]] bool uses_time() const noexcept { return uses_time_; }
  [[nodiscard]] bool uses(CriterionKind k) const noexcept;
  [[nodiscard]] std::size_t criterion_count() const noexcept { return criteria_.size(); }
  // Appends every claim path a `claim/…` criterion of this policy may look up (what sessions must index).
  void claim_paths(std::vector<std::string>& out) const;

  // Why, for logs, the CLI and (with show_error_details) the deny page: a summary (the deciding rule), then the
  // criteria evaluated, each with its value. Each reason is a few pieces to be joined; they point into the policy,
  // so explaining allocates nothing. With `json`, every piece is already escaped for a JSON string (the policy keeps
  // escaped copies of its texts), so a log line copies them as they are. Returns how many of `out` were filled.
  using ReasonText = std::array<std::string_view, 8>;
  std::size_t explain(const Decision& d, std::span<ReasonText> out, bool json = false) const noexcept;
  // The same, joined into sentences.
  [[nodiscard]] std::vector<std::string> reasons(const Decision& d) const;
  // The policy as rules in words, one line each (postern policy check).
  [[nodiscard]] std::vector<std::string> describe() const;

 private:
  struct Operator {
    OperatorKind kind;
    std::uint32_t first, count;  // criteria_[first, first + count)
  };
  struct Rule {
    Action action;
    std::uint32_t first, count;  // ops_[first, first + count)
    std::string origin;
    std::string origin_json;  // origin escaped for a JSON string
  };
  Tri eval_rule(const Rule& r, const Input& in, Decision& d) const noexcept;
  Tri eval_operator(const Operator& op, const Input& in, Decision& d) const noexcept;
  Tri eval_criterion(std::uint32_t index, const Input& in, Decision& d) const noexcept;

  std::vector<Criterion> criteria_;
  std::vector<std::string> criteria_json_;  // each criterion's text escaped for a JSON string
  std::vector<Operator> ops_;
  std::vector<Rule> rules_;
  std::vector<std::uint32_t> deny_rules_, allow_rules_;
  bool uses_user_ = false, uses_source_ip_ = false, uses_time_ = false;
  std::uint32_t kinds_ = 0;  // bit per CriterionKind
};

}  // namespace postern::authz
