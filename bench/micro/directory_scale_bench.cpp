// The Okta directory at scale (issue 10), against a simulator seeded by bench/directory-scale.sh (by default 100,000
// users, 10,000 groups, 20 groups per user). One process, one run, figures printed as a Markdown table:
//   - the full sync: wall time, API calls, the process's peak memory (ru_maxrss), the state kept between runs;
//   - the published snapshot's heap bytes, per membership (target ≤ 200 B);
//   - a policy group test with that snapshot (the user's set looked up, then `groups has`; target < 1 µs);
//   - after the script changed `--changed` groups at the simulator, the delta run's API calls (target ≤ 30), then
//     the calls of a delta run with nothing changed.
// Heap bytes are counted by replacing operator new/delete (live bytes = allocated − freed, malloc_usable_size).
#include <sys/resource.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <random>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/context.hpp>

#include "authz/policy.h"
#include "authz/policy_parser.h"
#include "directory/directory_state.h"
#include "directory/okta_client.h"
#include "directory/sync.h"
#include "net/upstream_pool.h"
#include "net/watchdog.h"
#include "heap_counter.h"

using postern::bench::live_bytes;

namespace {
using namespace postern;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

double mib(long long bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  std::string org, token, between, group = "gen-group-05000";
  int changed = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--org") org = v;
    else if (k == "--token") token = v;
    else if (k == "--between") between = v;
    else if (k == "--group") group = v;
    else if (k == "--changed") changed = std::stoi(v);
  }
  if (org.empty() || token.empty()) {
    std::cerr << "usage: postern_directory_scale_bench --org URL --token SSWS [--between CMD] [--changed N] "
                 "[--group NAME]\n";
    return 2;
  }
  asio::io_context io;
  net::Watchdog dog(io);
  net::UpstreamPool pool(io, dog);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  config::DirectorySettings settings;
  settings.credential = config::DirectorySettings::Credential::api_token;
  settings.api_key = token;
  settings.rate_limit_reserve = 0.5;
  directory::OktaClient client(io, pool, tls, org, settings, std::chrono::seconds(30));
  dog.start();

  auto run = [&](auto task) {
    directory::SyncResult out;
    // The watchdog keeps the io_context busy for ever: the run's end stops it.
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr, directory::SyncResult r) {
      out = std::move(r);
      io.stop();
    });
    io.restart();
    io.run();
    return out;
  };

  auto failed = [](const char* what, const directory::SyncResult& r) {
    std::cerr << what << " failed: " << r.error << "\n";
    return 1;
  };

  // ---- full sync ----
  const long long live0 = live_bytes.load();
  directory::DirectoryState state;
  const directory::RunDeadline forever(client, std::chrono::hours(2));
  const auto t0 = Clock::now();
  auto full = run(directory::full_sync(client, state, forever));
  const double full_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!full.ok()) return failed("full sync", full);
  const long long state_bytes = live_bytes.load() - live0;
  const long peak_after_full = peak_rss_mib();

  // ---- snapshot ----
  const long long live1 = live_bytes.load();
  const auto snap = state.snapshot();
  const long long snap_bytes = live_bytes.load() - live1;
  const double per_membership = static_cast<double>(snap_bytes) / static_cast<double>(snap->membership_count());

  // ---- policy group test ----
  std::vector<authz::RuleSpec> rules;
  std::vector<authz::ParseProblem> problems;
  authz::parse_policy(YAML::Load("allow: {or: [{groups: {has: " + group + "}}]}"), "policy", rules, problems);
  const authz::Policy policy(std::move(rules));
  std::vector<std::string> ids;
  {
    std::vector<directory::DirectoryState::Index> which;
    for (directory::DirectoryState::Index i = 0; i < state.user_count() && which.size() < 4096; i += 7) which.push_back(i);
    for (auto& u : state.users(which)) ids.push_back(std::move(u.id));
  }
  std::size_t allowed = 0;
  constexpr int evals = 2'000'000;
  const auto t1 = Clock::now();
  for (int i = 0; i < evals; ++i) {
    const auto& id = ids[static_cast<std::size_t>(i) % ids.size()];
    const authz::Subject subject{id, "", snap->groups_of(id), nullptr};
    authz::Input in;
    in.subject = &subject;
    in.method = "GET";
    in.path = "/";
    allowed += policy.evaluate(in).outcome == authz::Outcome::allow;
  }
  const double ns_per_eval = std::chrono::duration<double, std::nano>(Clock::now() - t1).count() / evals;

  // ---- delta after changes ----
  if (!between.empty() && std::system(between.c_str()) != 0) {
    std::cerr << "the --between command failed\n";
    return 1;
  }
  const auto t2 = Clock::now();
  auto delta = run(directory::delta_sync(client, state, forever));
  const double delta_s = std::chrono::duration<double>(Clock::now() - t2).count();
  if (!delta.ok()) return failed("delta run", delta);
  // ---- a quiet interval: nothing changed since ----
  auto quiet = run(directory::delta_sync(client, state, forever));
  if (!quiet.ok()) return failed("quiet delta run", quiet);
  const long peak_at_end = peak_rss_mib();
  dog.stop();
  pool.shutdown();

  std::printf("| figure | value | target |\n| --- | --- | --- |\n");
  std::printf("| users / groups / memberships | %zu / %zu / %zu | |\n", snap->user_count(), snap->group_count(),
              snap->membership_count());
  std::printf("| full sync: wall time | %.1f s | |\n", full_s);
  std::printf("| full sync: API calls | %llu | |\n", static_cast<unsigned long long>(full.calls));
  std::printf("| full sync: peak memory of the process (ru_maxrss) | %ld MiB | |\n", peak_after_full);
  std::printf("| peak memory with the state and a whole snapshot (ru_maxrss) | %ld MiB | |\n", peak_at_end);
  std::printf("| state kept between runs (heap) | %.1f MiB | |\n", mib(state_bytes));
  std::printf("| snapshot (heap) | %.1f MiB | |\n", mib(snap_bytes));
  std::printf("| snapshot per membership | %.0f B | ≤ 200 B |\n", per_membership);
  std::printf("| policy group test (lookup + `groups has`), mean | %.0f ns | < 1000 ns |\n", ns_per_eval);
  std::printf("| delta run after %d changed groups: API calls | %llu | ≤ 30 |\n", changed,
              static_cast<unsigned long long>(delta.calls));
  std::printf("| delta run: groups re-listed / users changed / wall time | %zu / %zu / %.2f s | |\n",
              delta.groups_listed, delta.changed.size(), delta_s);
  std::printf("| next delta run, nothing changed: API calls | %llu | |\n",
              static_cast<unsigned long long>(quiet.calls));
  std::fprintf(stderr, "(%zu of %d evaluations allowed)\n", allowed, evals);
  return 0;
}
