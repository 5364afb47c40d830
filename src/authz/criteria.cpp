#include "authz/criteria.h"

#include <algorithm>

namespace postern::authz {

Criterion simple_criterion(CriterionKind kind) {
  Criterion c;
  c.kind = kind;
  c.text = std::string(criterion_name(kind));
  return c;
}

Criterion string_criterion(CriterionKind kind, StringMatcher m) {
  Criterion c;
  c.kind = kind;
  c.text = std::string(criterion_name(kind)) + " " + m.describe();
  c.string = std::move(m);
  return c;
}

std::vector<std::string> claim_lookup_paths(std::string_view path) {
  std::vector<std::string> paths{std::string(path)};
  std::string nested(path);
  std::replace(nested.begin(), nested.end(), '.', '/');
  if (nested != paths.front()) paths.push_back(std::move(nested));
  return paths;
}

Criterion list_criterion(CriterionKind kind, std::string_view path, StringListMatcher m) {
  Criterion c;
  c.kind = kind;
  c.text = std::string(criterion_name(kind));
  if (kind == CriterionKind::claim) {
    c.text += "/" + std::string(path);
    c.claim_paths = claim_lookup_paths(path);
  }
  c.text += " " + m.describe();
  c.list = std::move(m);
  return c;
}

Criterion source_ip_criterion(std::vector<core::IpRange> ranges) {
  Criterion c;
  c.kind = CriterionKind::source_ip;
  c.text = "source_ip in [";
  for (std::size_t i = 0; i < ranges.size(); ++i) c.text += (i ? ", " : "") + ranges[i].to_string();
  c.text += "]";
  c.ranges = std::move(ranges);
  return c;
}

Criterion time_criterion(CriterionKind kind, TimeWindow window) {
  Criterion c;
  c.kind = kind;
  c.text = std::string(criterion_name(kind)) + " " + window.describe();
  c.time = std::move(window);
  return c;
}

}  // namespace postern::authz
