#include "app/policy_check.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/ip_address.h"
#include "core/url.h"

namespace postern::app {

namespace {

void print_decision(std::ostream& out, const char* label, const authz::Policy& policy, const authz::Decision& d) {
  out << label << authz::to_string(d.outcome) << "\n";
  for (const auto& line : policy.reasons(d)) out << "  " << line << "\n";
}

}  // namespace

int run_policy_check(const config::Snapshot& snapshot, const PolicyQuery& q, std::ostream& out, std::ostream& err,
                     const directory::Snapshot* directory) {
  const auto url = core::parse_http_url(q.url);
  if (!url) {
    err << "policy check: --route must be an absolute http(s) URL such as https://app.example.com/path\n";
    return 1;
  }
  const std::string raw_path = url->rest.substr(0, url->rest.find_first_of("?#"));
  const auto path = config::normalize_path(raw_path.empty() ? "/" : raw_path);
  if (!path) {
    err << "policy check: the URL's path would be refused with 400 (an encoded slash or backslash, or a bad escape)\n";
    return 1;
  }
  const auto match = snapshot.routes.match(url->host, url->port, *path);
  if (!match.route) {
    err << "policy check: no route matches " << q.url << (match.host_known ? " (the host has routes, not this path)" : "")
        << "\n";
    return 1;
  }
  const auto& rs = match.route->settings();
  out << "route: " << rs.location.where << " from " << rs.from;
  if (!rs.prefix.empty()) out << " prefix " << rs.prefix;
  if (!rs.path.empty()) out << " path " << rs.path;
  if (!rs.regex.empty()) out << " regex " << rs.regex;
  out << "\npolicy" << (rs.report_policy ? " (enforced; policy_mode: report)" : "") << ":\n";
  for (const auto& line : rs.policy->describe()) out << "  " << line << "\n";
  if (rs.report_policy) {
    out << "reported policy:\n";
    for (const auto& line : rs.report_policy->describe()) out << "  " << line << "\n";
  }

  // The subject: claims as a JSON object (repeated names make lists), groups also as the groups claim.
  boost::json::object claims;
  for (const auto& c : q.claims) {
    const auto eq = c.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << "policy check: --claim takes name=value, got \"" << c << "\"\n";
      return 1;
    }
    auto& slot = claims[c.substr(0, eq)];
    if (!slot.is_array()) slot = boost::json::array();
    slot.as_array().emplace_back(c.substr(eq + 1));
  }
  if (!q.groups.empty() && !claims.contains("groups")) {
    boost::json::array g;
    for (const auto& name : q.groups) g.emplace_back(name);
    claims["groups"] = std::move(g);
  }
  if (!q.email.empty() && !claims.contains("email")) claims["email"] = q.email;
  if (!q.user.empty() && !claims.contains("sub")) claims["sub"] = q.user;
  const auto claim_index = session::Claims::from_json(boost::json::serialize(claims));
  // Without --user the user has an id (every session does) that no `user` criterion names; the directory may know it
  // from the email.
  std::string user_id = q.user.empty() ? "(no --user given)" : q.user;
  const core::StringSet* groups = claim_index.find("groups");
  std::string groups_source = std::to_string(q.groups.size()) + " group(s)";
  if (directory) {
    if (q.user.empty() && !q.email.empty())
      if (auto id = directory->user_id_for_email(q.email)) user_id = std::string(*id);
    if (const auto* g = directory->groups_of(user_id)) {
      groups = g;
      groups_source = directory->knows_user(user_id)
                          ? std::to_string(g->size()) + " group ids and names from the Okta directory"
                          : "no groups: the Okta directory does not know this user (--group is not used)";
    }
  }
  authz::Subject subject{user_id, q.email, groups, &claim_index};

  authz::Input in;
  if (!q.anonymous) {
    if (q.email.empty() && q.user.empty()) {
      err << "policy check: give --email and/or --user (or --anonymous for a request without a session)\n";
      return 1;
    }
    in.subject = &subject;
  }
  in.method = q.method;
  in.path = *path;
  in.source_ip = core::parse_ip(q.source_ip);
  if (!in.source_ip) {
    err << "policy check: --source-ip must be an IP address, got \"" << q.source_ip << "\"\n";
    return 1;
  }
  in.cors_preflight = q.cors_preflight;
  if (q.at.empty()) {
    in.now = std::chrono::system_clock::now();
  } else if (auto t = authz::parse_iso8601(q.at)) {
    in.now = *t;
  } else {
    err << "policy check: --at must be an ISO-8601 time such as 2026-03-01T09:30:00Z, got \"" << q.at << "\"\n";
    return 1;
  }
  out << "request: " << q.method << " " << url->scheme << "://" << url->host << (url->explicit_port ? ":" + std::to_string(url->port) : "")
      << *path << " from " << q.source_ip << " as ";
  if (q.anonymous) {
    out << "(no session)";
  } else {
    out << (q.email.empty() ? "(no email)" : q.email) << " (user " << user_id << ", " << groups_source << ")";
  }
  out << "\n";
  const auto d = rs.policy->evaluate(in);
  print_decision(out, "decision: ", *rs.policy, d);
  if (rs.report_policy) print_decision(out, "reported decision (not enforced): ", *rs.report_policy, rs.report_policy->evaluate(in));
  switch (d.outcome) {
    case authz::Outcome::allow: return 0;
    case authz::Outcome::deny: return 2;
    case authz::Outcome::sign_in_required: return 3;
  }
  return 1;
}

}  // namespace postern::app
