#pragma once
// A snapshot of the process environment, injectable so tests do not touch the real one.
#include <map>
#include <optional>
#include <string>

namespace postern::config {

class Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  // Reads `environ`.
  static Environment from_process();
  // An empty value counts as unset, as with Pomerium (viper).
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;

 private:
  std::map<std::string, std::string> vars_;
};

}  // namespace postern::config
