#pragma once
// Reading members of JSON objects we did not write ourselves (IdP answers, sealed values): the member if it has the
// expected type, otherwise an empty value. Never throws.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

// The string member `key`, or "" when it is absent or not a string.
[[nodiscard]] std::string json_string(const boost::json::object& o, std::string_view key);
// The member `key` when it is a signed 64-bit integer, else nullopt.
[[nodiscard]] std::optional<std::int64_t> json_int64(const boost::json::object& o, std::string_view key);

}  // namespace postern::core
