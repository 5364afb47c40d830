#pragma once
// `postern policy check`: answers "why can't Alice reach Grafana?" from the configuration alone. Finds the route a
// URL reaches, evaluates its policy for the user described on the command line, and prints the decision with the
// rule that produced it and every criterion evaluated.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "directory/snapshot.h"

namespace postern::app {

struct PolicyQuery {
  std::string url;  // https://grafana.example.com/dashboards
  bool anonymous = false;  // no session at all
  std::string email;
  std::string user;
  std::vector<std::string> groups;
  std::vector<std::string> claims;  // "name=value", repeated for lists
  std::string method = "GET";
  std::string source_ip = "127.0.0.1";
  std::string at;  // ISO-8601; empty: now
  bool cors_preflight = false;
};

// Prints the report to `out`; returns the exit status: 0 allowed, 2 denied, 3 sign-in needed, 1 a bad query.
// `directory` (when the configuration has one and it could be read): the live Okta directory; a user it knows (by
// --user, else by --email) gets the groups it lists instead of --group.
int run_policy_check(const config::Snapshot& snapshot, const PolicyQuery& q, std::ostream& out, std::ostream& err,
                     const directory::Snapshot* directory = nullptr);

}  // namespace postern::app
