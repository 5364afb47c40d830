#include "session/session.h"

#include <boost/json.hpp>


namespace postern::session {
namespace json = boost::json;
namespace {

// The claims of the session's ID token (validated when it was received), or an empty object.
json::object payload_of(const CompactJws& jws) {
  const std::string text = jws.payload();
  if (text.empty()) return {};
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return !ec && v.is_object() ? std::move(v.as_object()) : json::object{};
}

}  // namespace

std::string Session::claims_json() const {
  auto all = payload_of(id_token);
  if (!extra_claims.empty()) {
    boost::system::error_code ec;
    auto extra = json::parse(extra_claims, ec);
    if (!ec && extra.is_object())
      for (const auto& [k, v] : extra.as_object())
        if (!all.contains(k)) all[k] = v;
  }
  return json::serialize(all);
}

void Session::set_claims(std::string_view all_claims_json) {
  boost::system::error_code ec;
  auto all = json::parse(all_claims_json, ec);
  if (ec || !all.is_object()) {
    extra_claims.clear();
    claims = Claims();
    return;
  }
  const auto token = payload_of(id_token);
  json::object extra;
  for (const auto& [k, v] : all.as_object())
    if (const auto* t = token.if_contains(k); !t || *t != v) extra[k] = v;
  extra_claims = extra.empty() ? std::string() : json::serialize(extra);
  claims = Claims::from_json(all_claims_json);
}

}  // namespace postern::session
