#pragma once
// Pomerium's matchers, compiled: a string matcher (is, not, starts_with, ends_with, contains, in, not_in; every
// operator given must hold) and a string-list matcher (has, is, exclude). Comparisons are exact and case-sensitive,
// as in Pomerium. Matching allocates nothing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/string_set.h"

namespace postern::authz {

class StringMatcher {
 public:
  enum class Op : std::uint8_t { is, is_not, starts_with, ends_with, contains, in, not_in };
  static constexpr std::string_view op_name(Op op) noexcept {
    constexpr std::string_view names[] = {"is", "not", "starts_with", "ends_with", "contains", "in", "not_in"};
    return names[static_cast<int>(op)];
  }

  void add(Op op, std::string value);               // is, not, starts_with, ends_with, contains
  void add(Op op, std::vector<std::string> values);  // in, not_in
  [[nodiscard]] bool empty() const noexcept { return terms_.empty(); }
  [[nodiscard]] bool matches(std::string_view s) const noexcept;
  // `is "alice@example.com"`, `starts_with "admin@" and not "admin@evil.com"`.
  [[nodiscard]] std::string describe() const;

 private:
  struct Term {
    Op op;
    std::string value;
    core::StringSet set;  // in, not_in
  };
  std::vector<Term> terms_;
};

class StringListMatcher {
 public:
  enum class Op : std::uint8_t { has, is, exclude };
  static constexpr std::string_view op_name(Op op) noexcept {
    constexpr std::string_view names[] = {"has", "is", "exclude"};
    return names[static_cast<int>(op)];
  }

  void add(Op op, std::string value);
  [[nodiscard]] bool empty() const noexcept { return terms_.empty(); }
  // `values` null means the list is absent, which matches like an empty list.
  [[nodiscard]] bool matches(const core::StringSet* values) const noexcept;
  [[nodiscard]] std::string describe() const;

 private:
  struct Term {
    Op op;
    std::string value;
  };
  std::vector<Term> terms_;
};

// `"text"` with quotes and JSON-style escapes, for descriptions.
[[nodiscard]] std::string quoted(std::string_view s);

}  // namespace postern::authz
