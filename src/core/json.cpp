#include "core/json.h"

#include <boost/json/value.hpp>

namespace postern::core {

std::string json_string(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::int64_t> json_int64(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64()) return v->as_int64();
  return std::nullopt;
}

}  // namespace postern::core
