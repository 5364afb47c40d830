#pragma once
// Configuration problems. Every problem names where it came from (file and line, or environment variable), the key,
// and what was expected, so an operator can fix it without reading our code.
#include <stdexcept>
#include <string>
#include <vector>

namespace postern::config {

// Where a value came from: "config.yaml:12", "environment variable ADDRESS", "(default)".
struct Location {
  std::string where;
};

struct Problem {
  Location location;
  std::string key;      // "address", "routes[2].from"
  std::string message;  // what was expected and what was found
  [[nodiscard]] std::string to_string() const { return location.where + ": " + key + ": " + message; }
};

// Thrown by the loader when at least one problem was found; carries all of them.
class ConfigErrors : public std::runtime_error {
 public:
  explicit ConfigErrors(std::vector<Problem> problems)
      : std::runtime_error(problems.empty() ? "invalid configuration" : problems.front().to_string()),
        problems_(std::move(problems)) {}
  [[nodiscard]] const std::vector<Problem>& problems() const noexcept { return problems_; }

 private:
  std::vector<Problem> problems_;
};

}  // namespace postern::config
