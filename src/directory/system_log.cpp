#include "directory/system_log.h"

#include <boost/json/parse.hpp>

#include <ctime>

#include "core/json.h"

namespace postern::directory {
namespace json = boost::json;

namespace {

struct Rule {
  std::string_view event;
  LogAction::Kind kind;
  std::string_view status;  // revoke only
};

// Cutting access: sessions end now. Restoring or changing it: the user is re-read (what Okta says now wins, so an
// event that arrives late or twice does no harm).
constexpr Rule rules[] = {
    {"user.lifecycle.deactivate", LogAction::Kind::revoke, "DEPROVISIONED"},
    {"user.lifecycle.suspend", LogAction::Kind::revoke, "SUSPENDED"},
    {"user.lifecycle.delete.initiated", LogAction::Kind::revoke, "DEPROVISIONED"},
    {"user.account.lock", LogAction::Kind::revoke, "LOCKED_OUT"},
    {"user.session.clear", LogAction::Kind::revoke, "ACTIVE"},
    {"user.authentication.universal_logout", LogAction::Kind::revoke, "ACTIVE"},
    {"group.user_membership.add", LogAction::Kind::reread, ""},
    {"group.user_membership.remove", LogAction::Kind::reread, ""},
    {"user.lifecycle.unsuspend", LogAction::Kind::reread, ""},
    {"user.lifecycle.reactivate", LogAction::Kind::reread, ""},
    {"user.lifecycle.activate", LogAction::Kind::reread, ""},
    {"user.account.unlock", LogAction::Kind::reread, ""},
};

}  // namespace

std::vector<LogAction> system_log_actions(std::string_view body) {
  std::vector<LogAction> out;
  boost::system::error_code ec;
  const auto v = json::parse(body, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (!item.is_object()) continue;
    const auto& e = item.as_object();
    const std::string type = core::json_string(e, "eventType");
    const Rule* rule = nullptr;
    for (const auto& r : rules)
      if (r.event == type) rule = &r;
    if (!rule) continue;
    const auto* targets = e.if_contains("target");
    if (!targets || !targets->is_array()) continue;
    for (const auto& t : targets->as_array()) {
      if (!t.is_object() || core::json_string(t.as_object(), "type") != "User") continue;
      const std::string id = core::json_string(t.as_object(), "id");
      if (id.empty()) continue;
      out.push_back({rule->kind, id, type, std::string(rule->status)});
    }
  }
  return out;
}

std::string okta_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

}  // namespace postern::directory
