#include "authz/matchers.h"

#include "core/strings.h"

namespace postern::authz {

std::string quoted(std::string_view s) { return "\"" + core::json_escape(s) + "\""; }

void StringMatcher::add(Op op, std::string value) { terms_.push_back({op, std::move(value), {}}); }

void StringMatcher::add(Op op, std::vector<std::string> values) {
  terms_.push_back({op, {}, core::StringSet(std::move(values))});
}

bool StringMatcher::matches(std::string_view s) const noexcept {
  for (const auto& t : terms_) {
    bool ok = false;
    switch (t.op) {
      case Op::is: ok = s == t.value; break;
      case Op::is_not: ok = s != t.value; break;
      case Op::starts_with: ok = s.starts_with(t.value); break;
      case Op::ends_with: ok = s.ends_with(t.value); break;
      case Op::contains: ok = s.find(t.value) != std::string_view::npos; break;
      case Op::in: ok = t.set.contains(s); break;
      case Op::not_in: ok = !t.set.contains(s); break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string StringMatcher::describe() const {
  std::string out;
  for (const auto& t : terms_) {
    if (!out.empty()) out += " and ";
    out += op_name(t.op);
    out += ' ';
    if (t.op == Op::in || t.op == Op::not_in) {
      // Long lists are cut short: a reason names the criterion, it need not reprint the configuration.
      constexpr std::size_t shown = 5;
      out += '[';
      const auto values = t.set.values();
      for (std::size_t i = 0; i < values.size() && i < shown; ++i) out += (i ? ", " : "") + quoted(values[i]);
      if (values.size() > shown) out += ", … " + std::to_string(values.size() - shown) + " more";
      out += ']';
    } else {
      out += quoted(t.value);
    }
  }
  return out;
}

void StringListMatcher::add(Op op, std::string value) { terms_.push_back({op, std::move(value)}); }

bool StringListMatcher::matches(const core::StringSet* values) const noexcept {
  for (const auto& t : terms_) {
    bool ok = false;
    switch (t.op) {
      case Op::has: ok = values && values->contains(t.value); break;
      case Op::is: ok = values && values->size() == 1 && values->values().front() == t.value; break;
      case Op::exclude: ok = !values || !values->contains(t.value); break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string StringListMatcher::describe() const {
  std::string out;
  for (const auto& t : terms_) {
    if (!out.empty()) out += " and ";
    out += op_name(t.op);
    out += ' ';
    out += quoted(t.value);
  }
  return out;
}

}  // namespace postern::authz
