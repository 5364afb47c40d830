// postern: an identity-aware access proxy configured like Pomerium.
//   postern --config FILE          run (Pomerium's spelling -config FILE works too)
//   postern validate --config FILE check a configuration, print every problem, exit 0 or 1
//   postern --version
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "app/server.h"
#include "config/loader.h"
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

  telemetry::init_logging(telemetry::Level::info);
  auto settings = load(config_path, false);
  if (!settings) return 1;
  telemetry::init_logging(telemetry::parse_level(settings->log_level));
  try {
    auto snapshot = std::make_shared<const config::Snapshot>(std::move(*settings));
    app::Server server(std::move(snapshot), threads);
    return server.run();
  } catch (const std::exception& e) {
    telemetry::log(telemetry::Level::error, "cannot start", {{"error", e.what()}});
    std::cerr << "postern: " << e.what() << "\n";
    return 1;
  }
}
