// postern: an identity-aware access proxy configured like Pomerium.
//   postern --config FILE          run (Pomerium's spelling -config FILE works too)
//   postern validate --config FILE check a configuration, print every problem, exit 0 or 1
//   postern policy check --config FILE --route URL --email E [--user ID] [--group G]... [--claim k=v]...
//                        [--method M] [--source-ip IP] [--at TIME] [--anonymous]
//                                  print the decision of the route's policy and why (exit 0 allow, 2 deny, 3 sign-in)
//   postern upstreams --config FILE [--json]
//                                  probe every route's targets once with their health checks; exit 0 all healthy, 2 not
//   postern --version
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "app/policy_check.h"
#include "app/server.h"
#include "app/upstreams_report.h"
#include "config/loader.h"
#include "directory/directory.h"
#include "directory/okta_api.h"
#include "telemetry/log.h"
#include "version.h"

namespace {

using namespace postern;

// Go's flag package accepts -name for long options; CLI11 does not. Rewrite those spellings before parsing.
std::vector<std::string> normalize_args(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    for (const char* name : {"config", "version", "threads"}) {
      const std::string single = std::string("-") + name;
      if (a == single || a.starts_with(single + "=")) a = "-" + a;
    }
    args.push_back(std::move(a));
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  return args;
}

// Loads the configuration, printing problems as `config error: …` lines. Returns nullopt on failure.
std::optional<config::Settings> load(const std::string& path, bool print_warnings_to_stderr) {
  try {
    auto settings = config::load_settings(path, config::Environment::from_process());
    for (const auto& w : settings.warnings) {
      if (print_warnings_to_stderr) std::cerr << "warning: " << w << "\n";
      else telemetry::log(telemetry::Level::warn, w);
    }
    return settings;
  } catch (const config::ConfigErrors& e) {
    for (const auto& p : e.problems()) std::cerr << "config error: " << p.to_string() << "\n";
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGHUP, SIG_IGN);  // until the server's own handler is installed (see Server::run)
  CLI::App app{"Postern: an identity-aware access proxy, configured like Pomerium.", "postern"};
  std::string config_path;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  bool version = false;
  app.add_option("--config,-c", config_path, "configuration file (YAML); every key may also come from the environment");
  app.add_option("--threads", threads, "worker threads (default: one per core)")->check(CLI::Range(1u, 256u));
  app.add_flag("--version", version, "print the version and exit");
  auto* validate = app.add_subcommand("validate", "check a configuration, print every problem, exit 0 or 1");
  std::string validate_path;
  validate->add_option("--config,-c", validate_path, "configuration file (YAML)");

  auto* policy = app.add_subcommand("policy", "inspect route policies");
  auto* check = policy->add_subcommand("check", "print a route policy's decision for a user and request, and why");
  policy->require_subcommand(1);
  std::string check_path;
  app::PolicyQuery query;
  check->add_option("--config,-c", check_path, "configuration file (YAML)");
  check->add_option("--route", query.url, "the URL requested, e.g. https://grafana.example.com/d/abc")->required();
  check->add_option("--email", query.email, "the user's email");
  check->add_option("--user", query.user, "the user's id (the IdP's sub, 00u… at Okta); without it no user criterion holds");
  check->add_option("--group", query.groups, "a group the user is in (id or name); repeatable");
  check->add_option("--claim", query.claims, "a claim, name=value; repeat a name for a list");
  check->add_option("--method", query.method, "the request method (default GET)");
  check->add_option("--source-ip", query.source_ip, "the client's address (default 127.0.0.1)");
  check->add_option("--at", query.at, "when, as ISO-8601 (default now)");
  check->add_flag("--anonymous", query.anonymous, "a request without a session");
  check->add_flag("--cors-preflight", query.cors_preflight, "an OPTIONS request with Origin and Access-Control-Request-Method");

  auto* upstreams = app.add_subcommand("upstreams", "probe every route's targets with their health checks and list them");
  std::string upstreams_path;
  bool upstreams_json = false;
  upstreams->add_option("--config,-c", upstreams_path, "configuration file (YAML)");
  upstreams->add_flag("--json", upstreams_json, "one JSON object per target");

  try {
    app.parse(normalize_args(argc, argv));
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version) {
    std::cout << "postern " << POSTERN_VERSION << "\n";
    return 0;
  }
  if (*validate) {
    const std::string& path = validate_path.empty() ? config_path : validate_path;
    auto settings = load(path, true);
    if (!settings) return 1;
    std::cout << "configuration OK: " << settings->routes.size() << " route(s)"
              << (settings->warnings.empty() ? "" : ", " + std::to_string(settings->warnings.size()) + " warning(s)")
              << "\n";
    return 0;
  }

  if (*upstreams) {
    auto settings = load(upstreams_path.empty() ? config_path : upstreams_path, true);
    if (!settings) return 1;
    try {
      return app::run_upstreams_report(*settings, upstreams_json, std::cout);
    } catch (const std::exception& e) {
      std::cerr << "postern upstreams: " << e.what() << "\n";
      return 1;
    }
  }

  if (*check) {
    auto settings = load(check_path.empty() ? config_path : check_path, true);
    if (!settings) return 1;
    const config::Snapshot snapshot(std::move(*settings));
    // With an Okta directory configured, read it once now: the answer then uses live group membership.
    std::unique_ptr<directory::Directory> dir;
    const auto& ds = snapshot.settings.directory;
    if (ds.credential == config::DirectorySettings::Credential::api_token && snapshot.settings.idp.provider == "okta") {
      telemetry::init_logging(telemetry::Level::warn);
      dir = std::make_unique<directory::Directory>(ds, directory::org_url(snapshot.settings.idp.url_text));
      if (!dir->sync_once()) std::cerr << "policy check: the Okta directory could not be read (see above); using --group\n";
    }
    const auto live = dir ? dir->current() : nullptr;
    return app::run_policy_check(snapshot, query, std::cout, std::cerr, live.get());
  }

  telemetry::init_logging(telemetry::Level::info);
  auto settings = load(config_path, false);
  if (!settings) return 1;
  telemetry::init_logging(telemetry::parse_level(settings->log_level));
  try {
    auto snapshot = std::make_shared<const config::Snapshot>(std::move(*settings));
    app::Server server(std::move(snapshot), threads, config_path);
    return server.run();
  } catch (const std::exception& e) {
    telemetry::log(telemetry::Level::error, "cannot start", {{"error", e.what()}});
    std::cerr << "postern: " << e.what() << "\n";
    return 1;
  }
}
