// Fuzz target: the policy language parser and the compiled evaluator. Any byte string must parse or produce
// problems (never crash, hang or throw past the YAML reader); a policy that parses evaluates for every kind of
// request, and with a session nothing is unknown, so the outcome is never "sign-in needed".
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "authz/policy.h"
#include "authz/policy_parser.h"

using namespace postern;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  YAML::Node node;
  try {
    node = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // the config loader reports YAML syntax errors before policies are read
  }
  std::vector<authz::RuleSpec> rules;
  std::vector<authz::ParseProblem> problems;
  authz::parse_policy(node, "policy", rules, problems);
  for (const auto& p : problems)
    if (p.key.empty() || p.message.empty()) std::abort();
  const authz::Policy policy(std::move(rules));
  const core::StringSet groups(std::vector<std::string>{"admins", "00g1"});
  const auto claims = session::Claims::from_json(R"({"groups":["admins"],"department":"eng","a":{"b":"c"}})");
  const authz::Subject subject{"00u1", "alice@example.com", &groups, &claims};
  for (const char* method : {"GET", "DELETE", "OPTIONS"}) {
    authz::Input in;
    in.method = method;
    in.path = "/admin";
    in.source_ip = core::parse_ip("10.1.2.3");
    in.cors_preflight = method[0] == 'O';
    in.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'780'000'000));
    const auto anonymous = policy.evaluate(in);
    in.subject = &subject;
    const auto signed_in = policy.evaluate(in);
    if (signed_in.outcome == authz::Outcome::sign_in_required) std::abort();
    // What holds without knowing the user holds with it: a definite anonymous answer never flips.
    if (anonymous.outcome != authz::Outcome::sign_in_required && anonymous.outcome != signed_in.outcome) std::abort();
    if (policy.reasons(signed_in).empty()) std::abort();
  }
  return 0;
}
