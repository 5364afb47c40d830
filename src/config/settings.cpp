#include "config/settings.h"

namespace postern::config {

std::string ListenAddress::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string UpstreamTarget::authority() const {
  const bool default_port = (scheme == "https" && port == 443) || ((scheme == "http" || scheme == "h2c") && port == 80);
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

std::string ServiceUrl::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + (port ? ":" + std::to_string(*port) : "");
}

std::string_view to_string(DownstreamMtlsSettings::Enforcement e) noexcept {
  switch (e) {
    case DownstreamMtlsSettings::Enforcement::policy_with_default_deny: return "policy_with_default_deny";
    case DownstreamMtlsSettings::Enforcement::policy: return "policy";
    case DownstreamMtlsSettings::Enforcement::reject_connection: return "reject_connection";
  }
  return "policy_with_default_deny";
}

std::string_view to_string(LbPolicy p) noexcept {
  switch (p) {
    case LbPolicy::round_robin: return "round_robin";
    case LbPolicy::least_request: return "least_request";
    case LbPolicy::random: return "random";
    case LbPolicy::ring_hash: return "ring_hash";
    case LbPolicy::maglev: return "maglev";
  }
  return "round_robin";
}

}  // namespace postern::config
