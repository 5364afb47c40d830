// Policy evaluation per request (issue target: a typical route policy of 3–10 criteria, including a group test
// against a user in 200 groups, under 1 µs median and with no allocation). Every allocation in this binary is
// counted, and each benchmark reports allocations per evaluation next to its time.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "authz/legacy_rules.h"
#include "authz/policy.h"
#include "authz/policy_parser.h"

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace postern;

authz::Policy compile(const char* yaml) {
  std::vector<authz::RuleSpec> rules;
  std::vector<authz::ParseProblem> problems;
  authz::parse_policy(YAML::Load(yaml), "policy", rules, problems);
  if (!problems.empty()) std::abort();
  return authz::Policy(std::move(rules));
}

struct Fixture {
  core::StringSet groups;
  session::Claims claims;
  authz::Subject subject;
  authz::Input in;
  Fixture() {
    std::vector<std::string> g;
    for (int i = 0; i < 200; ++i) g.push_back("00g" + std::to_string(100000 + i * 37));
    g.push_back("grafana-admins");
    groups = core::StringSet(std::move(g));
    claims = session::Claims::from_json(R"({"department":"engineering","email_verified":true,"groups":[]})");
    subject = {"00u1abcdef", "alice@example.com", &groups, &claims};
    in.subject = &subject;
    in.method = "GET";
    in.path = "/d/home/dashboards";
    in.source_ip = core::parse_ip("10.20.30.40");
    in.now = std::chrono::system_clock::now();
  }
};

void run(benchmark::State& state, const authz::Policy& policy, const authz::Input& in, authz::Outcome expected) {
  if (policy.evaluate(in).outcome != expected) {
    state.SkipWithError("unexpected outcome");
    return;
  }
  const auto before = allocations.load();
  for (auto _ : state) benchmark::DoNotOptimize(policy.evaluate(in));
  state.counters["allocs/eval"] =
      benchmark::Counter(double(allocations.load() - before), benchmark::Counter::kAvgIterations);
}

// Five criteria: what the end-to-end benchmark's signed-in route uses (bench/configs.sh).
constexpr const char* five_criteria = R"(
- allow:
    and:
      - domain: example.com
      - groups: {has: grafana-admins}
      - http_method: {in: [GET, HEAD, POST]}
      - claim/department: engineering
- deny:
    or:
      - http_path: {starts_with: /admin}
)";

constexpr const char* ten_criteria = R"(
- allow:
    and:
      - email: {ends_with: "@example.com", not: root@example.com}
      - groups: {has: grafana-admins}
      - groups: {exclude: contractors}
      - http_method: {in: [GET, HEAD, POST]}
      - claim/email_verified: "true"
      - source_ip: [10.0.0.0/8, 192.168.0.0/16]
      - time_of_day: {timezone: America/New_York, after: "00:00", before: "23:59:59"}
- deny:
    or:
      - http_path: {starts_with: /admin}
      - user: {in: [00u-banned-1, 00u-banned-2]}
      - day_of_week: "sun"
)";

void BM_PolicyAllowAnyAuthenticatedUser(benchmark::State& state) {
  Fixture f;
  authz::LegacyKeys k;
  k.any_authenticated_user = true;
  const authz::Policy p({*authz::lower_legacy_keys(k)});
  run(state, p, f.in, authz::Outcome::allow);
}
BENCHMARK(BM_PolicyAllowAnyAuthenticatedUser);

void BM_PolicyFiveCriteria200Groups(benchmark::State& state) {
  Fixture f;
  run(state, compile(five_criteria), f.in, authz::Outcome::allow);
}
BENCHMARK(BM_PolicyFiveCriteria200Groups);

void BM_PolicyTenCriteria200Groups(benchmark::State& state) {
  Fixture f;
  const auto p = compile(ten_criteria);
  // Sunday would be denied: evaluate on a Wednesday.
  f.in.now = *authz::parse_iso8601("2026-12-02T15:00:00Z");
  run(state, p, f.in, authz::Outcome::allow);
}
BENCHMARK(BM_PolicyTenCriteria200Groups);

void BM_PolicyDeniedByPath(benchmark::State& state) {
  Fixture f;
  f.in.path = "/admin/users";
  run(state, compile(five_criteria), f.in, authz::Outcome::deny);
}
BENCHMARK(BM_PolicyDeniedByPath);

void BM_PolicyLegacyHundredUsers(benchmark::State& state) {
  Fixture f;
  authz::LegacyKeys k;
  for (int i = 0; i < 100; ++i) k.users.push_back("user" + std::to_string(i) + "@example.com");
  k.users.push_back("alice@example.com");
  const authz::Policy p({*authz::lower_legacy_keys(k)});
  run(state, p, f.in, authz::Outcome::allow);
}
BENCHMARK(BM_PolicyLegacyHundredUsers);

void BM_PolicyAnonymousNeedsSignIn(benchmark::State& state) {
  Fixture f;
  f.in.subject = nullptr;
  run(state, compile(five_criteria), f.in, authz::Outcome::sign_in_required);
}
BENCHMARK(BM_PolicyAnonymousNeedsSignIn);

}  // namespace
