#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "authz/criteria.h"
#include "authz/legacy_rules.h"
#include "authz/policy_parser.h"
#include "config/cluster_options.h"
#include "config/known_keys.h"
#include "config/pem.h"
#include "config/route_table.h"
#include <algorithm>
#include "core/base64.h"
#include "core/random.h"
#include "core/strings.h"
#include "core/url.h"

namespace postern::config {
namespace {

constexpr std::size_t max_config_bytes = 16 * 1024 * 1024;

// A value before decoding: either the text of an environment variable or a YAML node, with where it came from.
struct Raw {
  std::string key;  // full key for messages: "address", "routes[1].timeout"
  Location location;
  bool from_env = false;
  std::string env_text;
  YAML::Node node;
};

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "\"" + n.Scalar() + "\"";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

std::string describe(const Raw& r) { return r.from_env ? "\"" + r.env_text + "\"" : describe(r.node); }

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read file \"" + path + "\"";
    return std::nullopt;
  }
  std::string data;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > max_config_bytes) {
      error = "file \"" + path + "\" is larger than 16 MiB";
      return std::nullopt;
    }
  }
  return data;
}

class Loader {
 public:
  Loader(std::string label, const Environment& env) : label_(std::move(label)), env_(env) {}

  Settings load(const std::string& yaml_text) {
    if (!yaml_text.empty()) {
      try {
        root_ = YAML::Load(yaml_text);
      } catch (const YAML::Exception& e) {
        problem({label_ + ":" + std::to_string(e.mark.line + 1)}, "(file)", "YAML syntax error: " + e.msg);
        throw ConfigErrors(problems_);
      }
      if (root_ && !root_.IsNull() && !root_.IsMap()) {
        problem(at(root_), "(file)", "expected a map of settings at the top level, got " + describe(root_));
        throw ConfigErrors(problems_);
      }
    }
    if (root_) {
      std::size_t budget = max_checked_nodes;
      check_duplicate_keys(root_, "", budget);
    }
    decode_globals();
    decode_routes();
    if (!problems_.empty()) throw ConfigErrors(problems_);
    return std::move(settings_);
  }

 private:
  // ---- plumbing ---------------------------------------------------------------------------------------------------
  // yaml-cpp keeps both entries of a repeated key and lookups find the first: a second `policy:` (or `deny:`) would be
  // dropped without a word. Go's YAML reader, which Pomerium uses, refuses them; so does Postern.
  static constexpr std::size_t max_checked_nodes = 1'000'000;  // aliases can repeat a subtree; stop looking past this
  void check_duplicate_keys(const YAML::Node& node, const std::string& path, std::size_t& budget) {
    if (budget == 0) return;
    --budget;
    if (node.IsMap()) {
      std::set<std::string> seen;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) continue;
        const std::string& k = kv.first.Scalar();
        const std::string child_path = path.empty() ? k : path + "." + k;
        if (!seen.insert(k).second)
          problem(at(kv.first), child_path,
                  "duplicate key (YAML maps hold each key once; the repeated entry would be ignored)");
        check_duplicate_keys(kv.second, child_path, budget);
      }
    } else if (node.IsSequence()) {
      std::size_t i = 0;
      for (const auto& item : node) check_duplicate_keys(item, path + "[" + std::to_string(i++) + "]", budget);
    }
  }

  Location at(const YAML::Node& n) const {
    if (!n.IsDefined() || n.Mark().is_null()) return {label_};
    return {label_ + ":" + std::to_string(n.Mark().line + 1)};
  }

  void problem(Location where, std::string key, std::string message) {
    problems_.push_back({std::move(where), std::move(key), std::move(message)});
  }
  void problem(const Raw& raw, std::string message) { problem(raw.location, raw.key, std::move(message)); }

  void warn_once(const std::string& dedupe_key, const std::string& sentence) {
    if (warned_.insert(dedupe_key).second) settings_.warnings.push_back(sentence);
  }

  // The value of a top-level key: environment first, then the file.
  std::optional<Raw> global(const std::string& key) {
    const std::string env_name = core::to_upper(key);
    if (auto text = env_.get(env_name)) {
      Raw r;
      r.key = key;
      r.location = {"environment variable " + env_name};
      r.from_env = true;
      r.env_text = *text;
      return r;
    }
    if (root_ && root_.IsMap()) {
      YAML::Node n = root_[key];
      if (n.IsDefined() && !n.IsNull()) {
        Raw r;
        r.key = key;
        r.location = at(n);
        r.node = n;
        return r;
      }
    }
    return std::nullopt;
  }

  static std::optional<Raw> child(const YAML::Node& map, const std::string& name, const std::string& prefix,
                                  const Loader& self) {
    YAML::Node n = map[name];
    if (!n.IsDefined() || n.IsNull()) return std::nullopt;
    Raw r;
    r.key = prefix + name;
    r.location = self.at(n);
    r.node = n;
    return r;
  }

  std::optional<std::string> as_string(const Raw& r) {
    if (r.from_env) return r.env_text;
    if (!r.node.IsScalar()) {
      problem(r, "expected a string, got " + describe(r.node));
      return std::nullopt;
    }
    return r.node.Scalar();
  }

  std::optional<bool> as_bool(const Raw& r) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    static const std::set<std::string> yes = {"true", "True", "TRUE", "t", "T", "1", "yes", "Yes", "YES", "on"};
    static const std::set<std::string> no = {"false", "False", "FALSE", "f", "F", "0", "no", "No", "NO", "off"};
    if (yes.contains(*s)) return true;
    if (no.contains(*s)) return false;
    problem(r, "expected true or false, got " + describe(r));
    return std::nullopt;
  }

  std::optional<Duration> as_duration(const Raw& r) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    if (auto d = core::parse_duration(core::trim(*s))) return d;
    problem(r, "expected a duration such as 30s, 1m30s or 14h, got " + describe(r));
    return std::nullopt;
  }

  std::optional<std::uint32_t> as_uint(const Raw& r, std::uint32_t max) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    std::uint64_t v = 0;
    const std::string_view t = core::trim(*s);
    bool ok = !t.empty() && t.size() <= 10;
    for (const char c : t) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      v = v * 10 + std::uint64_t(c - '0');
    }
    if (!ok || v > max) {
      problem(r, "expected a whole number from 0 to " + std::to_string(max) + ", got " + describe(r));
      return std::nullopt;
    }
    return static_cast<std::uint32_t>(v);
  }

  // A list: YAML sequence of scalars, or a comma-separated string (file or environment).
  std::optional<std::vector<std::string>> as_list(const Raw& r) {
    if (r.from_env) return core::split_trimmed(r.env_text, ',');
    if (r.node.IsScalar()) return core::split_trimmed(r.node.Scalar(), ',');
    if (!r.node.IsSequence()) {
      problem(r, "expected a list, got " + describe(r.node));
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& item : r.node) {
      if (!item.IsScalar()) {
        problem(at(item), r.key, "expected a list of strings, found " + describe(item) + " in it");
        return std::nullopt;
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  // A map of strings: YAML map of scalars, or a JSON object in an environment variable.
  std::optional<HeaderList> as_map(const Raw& r) {
    HeaderList out;
    if (r.from_env) {
      boost::system::error_code ec;
      const boost::json::value v = boost::json::parse(r.env_text, ec);
      if (ec || !v.is_object()) {
        problem(r, "expected a JSON object such as {\"name\":\"value\"}");
        return std::nullopt;
      }
      for (const auto& [k, val] : v.as_object()) {
        if (val.is_string()) {
          out.emplace_back(std::string(k), std::string(val.as_string()));
        } else if (val.is_bool()) {
          out.emplace_back(std::string(k), val.as_bool() ? "true" : "false");
        } else if (val.is_number()) {
          out.emplace_back(std::string(k), boost::json::serialize(val));
        } else {
          problem(r, "expected string values in the JSON object, \"" + std::string(k) + "\" is not one");
          return std::nullopt;
        }
      }
      return out;
    }
    if (!r.node.IsMap()) {
      problem(r, "expected a map of names to values, got " + describe(r.node));
      return std::nullopt;
    }
    for (const auto& kv : r.node) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
        problem(at(kv.first), r.key, "expected string names and values, found " + describe(kv.second));
        return std::nullopt;
      }
      out.emplace_back(kv.first.Scalar(), kv.second.Scalar());
    }
    return out;
  }

  // Contents of the file named by a `*_file` key.
  std::optional<std::string> file_contents(const Raw& r) {
    auto path = as_string(r);
    if (!path) return std::nullopt;
    std::string error;
    std::string file(core::trim(*path));
    auto data = read_file(file, error);
    if (!data) problem(r, error);
    if (std::find(settings_.files.begin(), settings_.files.end(), file) == settings_.files.end())
      settings_.files.push_back(std::move(file));  // watched for reload, even when unreadable now
    return data;
  }

  // Base64 of PEM (Pomerium's `certificate`, `tls_custom_ca`, ...).
  std::optional<std::string> base64_pem(const Raw& r) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    auto decoded = core::base64_decode(core::trim(*s));
    if (!decoded) {
      problem(r, "expected base64 of a PEM document");
      return std::nullopt;
    }
    return decoded;
  }

  // A PEM value given inline (base64 of PEM) or as a file path, not both; nullopt when neither is set.
  std::optional<std::string> pem_inline_or_file(const std::optional<Raw>& inline_raw, const std::optional<Raw>& file_raw,
                                                const std::string& name) {
    if (inline_raw && file_raw) {
      problem(*file_raw, "set " + name + " or " + name + "_file, not both");
      return std::nullopt;
    }
    if (inline_raw) return base64_pem(*inline_raw);
    if (file_raw) return file_contents(*file_raw);
    return std::nullopt;
  }

  // A route's `<key>` or `<key>_file`.
  std::optional<std::string> pem_key(const YAML::Node& node, const std::string& prefix, const std::string& key) {
    return pem_inline_or_file(child(node, key, prefix, *this), child(node, key + "_file", prefix, *this), key);
  }

  // tls_client_cert(_file) + tls_client_key(_file): the certificate a route presents to upstreams that ask for one.
  void decode_client_certificate(const YAML::Node& node, const std::string& prefix, RouteSettings& route) {
    auto cert = pem_key(node, prefix, "tls_client_cert");
    auto key = pem_key(node, prefix, "tls_client_key");
    if (!cert && !key) return;
    if (!cert || !key) {
      problem(route.location, prefix + (cert ? "tls_client_key" : "tls_client_cert"),
              "tls_client_cert and tls_client_key go together (inline or _file)");
      return;
    }
    if (auto error = check_certificate_pair(*cert, *key)) {
      problem(route.location, prefix + "tls_client_cert", *error);
      return;
    }
    route.tls_client_cert_pem = std::move(*cert);
    route.tls_client_key_pem = std::move(*key);
  }

  // downstream_mtls (Pomerium ≥ v0.23), or the older client_ca / client_crl keys; environment variables
  // DOWNSTREAM_MTLS_CA, DOWNSTREAM_MTLS_CA_FILE, … as Pomerium binds nested keys.
  std::optional<Raw> mtls_key(const std::string& key) {
    const std::string env_name = "DOWNSTREAM_MTLS_" + core::to_upper(key);
    if (auto text = env_.get(env_name)) {
      Raw r;
      r.key = "downstream_mtls." + key;
      r.location = {"environment variable " + env_name};
      r.from_env = true;
      r.env_text = *text;
      return r;
    }
    if (root_ && root_.IsMap() && root_["downstream_mtls"].IsMap())
      return child(root_["downstream_mtls"], key, "downstream_mtls.", *this);
    return std::nullopt;
  }

  bool any_route_client_ca_ = false;  // some route names tls_downstream_client_ca (see decode_routes)

  void decode_downstream_mtls() {
    auto& m = settings_.downstream_mtls;
    if (auto r = global("downstream_mtls"); r && !r->from_env && !r->node.IsMap())
      problem(*r, "expected a map with ca or ca_file (and crl, enforcement, match_subject_alt_names, "
                  "max_verify_depth)");
    if (root_ && root_.IsMap() && root_["downstream_mtls"].IsMap()) {
      for (const auto& kv : root_["downstream_mtls"]) {
        const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
        if (k != "ca" && k != "ca_file" && k != "crl" && k != "crl_file" && k != "enforcement" &&
            k != "match_subject_alt_names" && k != "max_verify_depth")
          warn_once("downstream_mtls." + k,
                    at(kv.first).where + ": unknown config option: downstream_mtls." + k + " (ignored)");
      }
    }
    // Each value from downstream_mtls.<key>, else the older global key.
    auto pem = [&](const char* key, const char* old_key) -> std::optional<std::string> {
      auto inline_raw = mtls_key(key);
      auto file_raw = mtls_key(std::string(key) + "_file");
      if (!inline_raw && !file_raw) {
        inline_raw = global(old_key);
        file_raw = global(std::string(old_key) + "_file");
      }
      return pem_inline_or_file(inline_raw, file_raw, key);
    };
    if (auto ca = pem("ca", "client_ca")) {
      if (auto error = check_ca_bundle(*ca)) problem({"downstream_mtls"}, "downstream_mtls.ca", *error);
      else m.ca_pem = std::move(*ca);
    }
    if (auto crl = pem("crl", "client_crl")) {
      if (auto error = check_crl_bundle(*crl)) problem({"downstream_mtls"}, "downstream_mtls.crl", *error);
      else m.crl_pem = std::move(*crl);
    }
    if (auto r = mtls_key("enforcement")) {
      if (auto s = as_string(*r)) {
        const std::string v = core::to_lower(std::string(core::trim(*s)));
        using E = DownstreamMtlsSettings::Enforcement;
        if (v == "policy_with_default_deny") m.enforcement = E::policy_with_default_deny;
        else if (v == "policy") m.enforcement = E::policy;
        else if (v == "reject_connection") m.enforcement = E::reject_connection;
        else problem(*r, "expected policy_with_default_deny, policy or reject_connection, got " + describe(*r));
      }
    }
    if (auto r = mtls_key("max_verify_depth")) {
      if (auto v = as_uint(*r, 100)) m.max_verify_depth = *v;
    }
    if (auto r = mtls_key("match_subject_alt_names")) {
      if (r->from_env || !r->node.IsSequence()) {
        problem(*r, "expected a list of one-key maps such as - dns: '.*[.]example[.]com'");
      } else {
        for (const auto& item : r->node) {
          if (!item.IsMap() || item.size() != 1 || !item.begin()->second.IsScalar()) {
            problem(at(item), r->key, "each entry is one of dns, email, ip_address, uri or user_principal_name with a "
                                      "regular expression");
            continue;
          }
          const std::string type = item.begin()->first.Scalar();
          const std::string pattern = item.begin()->second.Scalar();
          if (type != "dns" && type != "email" && type != "ip_address" && type != "uri" && type != "user_principal_name") {
            problem(at(item), r->key + "." + type, "expected dns, email, ip_address, uri or user_principal_name");
            continue;
          }
          Raw pr{r->key + "." + type, at(item), false, {}, item.begin()->second};
          check_regex(pr, pattern);
          m.match_subject_alt_names.emplace_back(type, pattern);
        }
      }
    }
  }

  // downstream_mtls settings without any CA to apply them to (the global one, or a route's).
  void check_mtls_needs_ca() {
    if (settings_.downstream_mtls.configured() || any_route_client_ca_) return;
    for (const char* k : {"crl", "enforcement", "match_subject_alt_names", "max_verify_depth"})
      if (auto r = mtls_key(k))
        problem(*r, "downstream_mtls needs a CA (ca or ca_file, or a route's tls_downstream_client_ca) for this to "
                    "mean anything");
  }

  // ---- metrics, health probes, tracing --------------------------------------------------------------------------
  void decode_operations() {
    auto& m = settings_.metrics;
    if (auto r = global("metrics_address")) {
      if (auto s = as_string(*r); s && !core::trim(*s).empty()) {
        ListenAddress a;
        parse_address(*r, *s, &a);
        if (!a.host.empty()) m.address = a;
      }
    }
    if (auto r = global("metrics_basic_auth")) {
      if (auto s = as_string(*r)) {
        auto decoded = core::base64_decode(core::trim(*s));
        if (!decoded || decoded->find(':') == std::string::npos || decoded->find_first_of("\r\n") != std::string::npos)
          problem(*r, "expected base64 of user:password");  // the value is a secret: not echoed
        else m.basic_auth = std::move(*decoded);
      }
    }
    const auto pem = [&](const std::string& key) {
      return pem_inline_or_file(global(key), global(key + "_file"), key).value_or(std::string());
    };
    m.certificate_pem = pem("metrics_certificate");
    m.key_pem = pem("metrics_certificate_key");
    m.client_ca_pem = pem("metrics_client_ca");
    if (m.certificate_pem.empty() != m.key_pem.empty()) {
      auto r = global(m.certificate_pem.empty() ? "metrics_certificate_key" : "metrics_certificate");
      if (!r) r = global(m.certificate_pem.empty() ? "metrics_certificate_key_file" : "metrics_certificate_file");
      if (r) problem(*r, "metrics_certificate and metrics_certificate_key go together: set both or neither");
    }
    if (!m.client_ca_pem.empty() && m.certificate_pem.empty()) {
      auto r = global("metrics_client_ca");
      if (!r) r = global("metrics_client_ca_file");
      if (r) problem(*r, "client certificates for /metrics need TLS: set metrics_certificate and metrics_certificate_key");
    }
    if (!m.address && (!m.basic_auth.empty() || !m.certificate_pem.empty())) {
      settings_.warnings.push_back("metrics_basic_auth / metrics_certificate are set but metrics_address is not: "
                                   "no metrics are served");
    }

    auto& h = settings_.health;
    if (auto r = global("health_check_addr")) {
      if (auto s = as_string(*r)) {
        if (core::trim(*s).empty()) {
          h.address.reset();  // "" turns the listener off
        } else {
          ListenAddress a;
          parse_address(*r, *s, &a);
          if (!a.host.empty()) h.address = a;
          h.address_configured = true;
        }
      }
    }
    if (auto r = global("health_check_systemd_disabled")) {
      if (auto b = as_bool(*r)) h.systemd_disabled = *b;
    }

    auto& t = settings_.tracing;
    if (auto r = global("otel_traces_exporter")) {
      if (auto s = as_string(*r)) {
        const std::string v = core::to_lower(core::trim(*s));
        if (v == "otlp") t.enabled = true;
        else if (v != "none" && !v.empty()) problem(*r, "expected otlp or none, got " + describe(*r));
      }
    }
    std::optional<Raw> endpoint_raw;
    if (auto r = global("otel_exporter_otlp_traces_endpoint")) {
      if (auto s = as_string(*r)) t.endpoint = std::string(core::trim(*s));
      endpoint_raw = r;
    } else if (auto r2 = global("otel_exporter_otlp_endpoint")) {
      if (auto s = as_string(*r2); s && !core::trim(*s).empty()) {
        std::string base(core::trim(*s));
        while (base.ends_with('/')) base.pop_back();
        t.endpoint = base + "/v1/traces";
      }
      endpoint_raw = r2;
    }
    if (endpoint_raw && !t.endpoint.empty()) {
      const auto url = core::parse_http_url(t.endpoint);
      if (!url)
        problem(*endpoint_raw, "expected an http(s):// URL for the OTLP/HTTP traces endpoint, got " + describe(*endpoint_raw));
    }
    if (t.enabled && t.endpoint.empty()) {
      auto r = global("otel_traces_exporter");
      problem(*r, "otlp traces need otel_exporter_otlp_endpoint or otel_exporter_otlp_traces_endpoint");
    }
    if (auto r = global("otel_exporter_otlp_protocol")) {
      if (auto s = as_string(*r)) {
        const std::string v = core::to_lower(core::trim(*s));
        if (v == "grpc")
          problem(*r, "OTLP over gRPC is not supported: use http/protobuf or http/json (Postern sends OTLP/HTTP)");
        else if (v != "http/protobuf" && v != "http/json" && v != "http")
          problem(*r, "expected http/protobuf, http/json or grpc, got " + describe(*r));
      }
    }
    if (auto r = global("otel_exporter_otlp_headers")) {
      // A map, or the OpenTelemetry environment form "k1=v1,k2=v2".
      if (r->from_env ? !core::trim(r->env_text).starts_with('{') : r->node.IsScalar()) {
        auto s = as_string(*r);
        for (const auto& part : core::split_trimmed(s.value_or(""), ',')) {
          const auto eq = part.find('=');
          if (eq == std::string::npos || eq == 0) {
            problem(*r, "expected name=value pairs separated by commas");  // values may be secrets: not echoed
            break;
          }
          t.headers.emplace_back(std::string(core::trim(std::string_view(part).substr(0, eq))),
                                 std::string(core::trim(std::string_view(part).substr(eq + 1))));
        }
      } else if (auto m2 = as_map(*r)) {
        t.headers = std::move(*m2);
      }
      for (const auto& [n, v] : t.headers) check_header(*r, n, v);
    }
    if (auto r = global("otel_exporter_otlp_timeout")) {
      // Pomerium reads a duration; OpenTelemetry's environment form is milliseconds.
      if (auto s = as_string(*r)) {
        const std::string_view v = core::trim(*s);
        if (!v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos && v.size() <= 9)
          t.timeout = std::chrono::milliseconds(std::stoul(std::string(v)));
        else if (auto d = as_duration(*r)) t.timeout = *d;
      }
    }
    if (auto r = global("otel_traces_sampler_arg")) {
      if (auto s = as_string(*r)) {
        char* end = nullptr;
        const std::string v(core::trim(*s));
        const double ratio = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(ratio >= 0.0 && ratio <= 1.0))
          problem(*r, "expected a sampling ratio from 0 to 1, got " + describe(*r));
        else t.sample_ratio = ratio;
      }
    }
  }

  // ---- globals ----------------------------------------------------------------------------------------------------
  void decode_globals() {
    warn_about_keys();
    if (auto r = global("address")) {
      if (auto s = as_string(*r)) parse_address(*r, *s);
    }
    if (auto r = global("insecure_server")) {
      if (auto b = as_bool(*r)) settings_.insecure_server = *b;
    }
    if (auto r = global("http_redirect_addr")) {
      if (auto s = as_string(*r); s && !core::trim(*s).empty()) {
        ListenAddress a;
        parse_address(*r, *s, &a);
        if (!a.host.empty()) settings_.http_redirect_address = a;
        if (settings_.insecure_server)
          problem(*r, "redirects to https, but insecure_server is on: there is no https listener to send people to");
      }
    }
    decode_certificates();
    decode_downstream_mtls();
    decode_operations();
    if (auto r = global("timeout_read")) {
      if (auto d = as_duration(*r)) settings_.timeout_read = *d;
    }
    if (auto r = global("timeout_write")) {
      if (auto d = as_duration(*r)) settings_.timeout_write = *d;
    }
    if (auto r = global("timeout_idle")) {
      if (auto d = as_duration(*r)) settings_.timeout_idle = *d;
    }
    if (auto r = global("default_upstream_timeout")) {
      if (auto d = as_duration(*r)) settings_.default_upstream_timeout = *d;
    }
    if (auto r = global("log_level")) {
      if (auto s = as_string(*r)) {
        const std::string level = core::to_lower(core::trim(*s));
        static const std::set<std::string> levels = {"debug", "info", "warn", "warning", "error"};
        if (levels.contains(level)) {
          settings_.log_level = level == "warning" ? "warn" : level;
        } else {
          problem(*r, "expected one of debug, info, warn, error, got " + describe(*r));
        }
      }
    }
    if (auto r = global("xff_num_trusted_hops")) {
      if (auto v = as_uint(*r, 32)) settings_.xff_num_trusted_hops = *v;
    }
    if (auto r = global("skip_xff_append")) {
      if (auto b = as_bool(*r)) settings_.skip_xff_append = *b;
    }
    decode_response_headers();
    decode_signin();
  }

  // Secrets: base64 of exactly 32 bytes, from the key or its *_file variant.
  std::optional<std::string> secret32(const std::string& key) {
    std::optional<Raw> r = global(key);
    std::optional<std::string> text;
    if (r) {
      text = as_string(*r);
    } else if (auto f = global(key + "_file")) {
      r = f;
      text = file_contents(*f);
    }
    if (!r || !text) return std::nullopt;
    auto bytes = core::base64_decode(core::trim(*text));
    if (!bytes || bytes->size() != 32) {
      problem(*r, "expected base64 of exactly 32 random bytes (head -c32 /dev/urandom | base64), got " +
                      (bytes ? std::to_string(bytes->size()) + " bytes" : std::string("something that is not base64")));
      return std::nullopt;
    }
    return bytes;
  }

  std::optional<ServiceUrl> service_url(const Raw& r, bool allow_path) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    const std::string expected = std::string("expected an absolute http(s) URL") + (allow_path ? "" : " without a path") +
                                 ", got " + describe(r);
    auto u = core::parse_http_url(core::trim(*s));
    if (!u || u->rest.find_first_of("?#") != std::string::npos) {
      problem(r, expected);
      return std::nullopt;
    }
    ServiceUrl out;
    out.scheme = u->scheme;
    out.host = u->host;
    if (u->explicit_port) out.port = u->port;
    std::string path = u->rest;
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!allow_path && !path.empty()) {
      problem(r, expected);
      return std::nullopt;
    }
    out.path = path;
    return out;
  }

  static bool loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.") || host.ends_with(".localhost");
  }

  void decode_signin() {
    if (auto r = global("forward_auth_url")) {
      if (auto u = service_url(*r, false)) settings_.forward_auth_url = *u;
    }
    if (auto r = global("authenticate_service_url")) {
      if (auto u = service_url(*r, false)) settings_.authenticate_service_url = *u;
    }
    auto& idp = settings_.idp;
    if (auto r = global("idp_provider")) {
      if (auto s = as_string(*r)) {
        const std::string p = core::to_lower(core::trim(*s));
        if (p == "okta" || p == "oidc") idp.provider = p;
        else
          problem(*r, "\"" + *s + "\" is not an identity provider Postern supports; expected okta or oidc");
      }
    }
    if (auto r = global("idp_provider_url")) {
      if (auto u = service_url(*r, true)) {
        // Pomerium starts with plain http too; it is said loudly, once, because codes and tokens then cross the
        // network in the clear. Every URL Postern builds itself stays https.
        if (u->scheme == "http" && !loopback_host(u->host))
          warn_once(r->key, r->location.where + ": " + r->key + ": " + describe(*r) +
                                " is plain http on a host that is not loopback: authorization codes, tokens and the "
                                "client secret cross the network unencrypted and can be read or changed on the way; "
                                "use https");
        idp.url = *u;
        idp.url_text = std::string(core::trim(*as_string(*r)));
      }
    }
    if (auto r = global("idp_client_id")) {
      if (auto s = as_string(*r)) idp.client_id = std::string(core::trim(*s));
    }
    if (auto r = global("idp_client_secret")) {
      if (auto s = as_string(*r)) idp.client_secret = *s;
    } else if (auto f = global("idp_client_secret_file")) {
      if (auto s = file_contents(*f)) idp.client_secret = std::string(core::trim(*s));
    }
    if (auto r = global("idp_scopes")) {
      if (auto l = as_list(*r)) {
        // Pomerium's default list is space-free; a YAML string "openid email" means two scopes.
        std::vector<std::string> scopes;
        for (const auto& item : *l)
          for (auto& piece : core::split_trimmed(item, ' ')) scopes.push_back(std::move(piece));
        idp.scopes = std::move(scopes);
      }
    }
    if (auto r = global("idp_request_params")) {
      if (auto m = as_map(*r)) idp.request_params = std::move(*m);
    }
    decode_directory();
    decode_store();
    decode_runtime_flags();
    if (idp.configured()) {
      const Location where = global("idp_provider") ? global("idp_provider")->location : Location{label_};
      if (idp.url.empty()) problem(where, "idp_provider_url", "is required with idp_provider (the issuer URL)");
      if (idp.client_id.empty()) problem(where, "idp_client_id", "is required with idp_provider");
      if (idp.client_secret.empty()) problem(where, "idp_client_secret", "is required with idp_provider");
      if (settings_.authenticate_service_url.empty())
        problem(where, "authenticate_service_url",
                "is required with idp_provider: the public URL where Postern receives /oauth2/callback");
      if (std::find(idp.scopes.begin(), idp.scopes.end(), "openid") == idp.scopes.end())
        problem(where, "idp_scopes", "must include openid");
    }

    auto shared = secret32("shared_secret");
    auto cookie = secret32("cookie_secret");
    for (auto [secret, value, key] : {std::tuple{&settings_.shared_secret, &shared, "shared_secret"},
                                      std::tuple{&settings_.cookie_secret, &cookie, "cookie_secret"}}) {
      if (*value) {
        *secret = **value;
      } else if (!global(key) && !global(std::string(key) + "_file")) {
        *secret = core::random_bytes(32);
        settings_.secrets_generated = true;
        if (idp.configured())  // without sign-in nothing uses them
          settings_.warnings.push_back(std::string(key) +
                                     " is not set: using a random one for this process only. Sessions will not "
                                     "survive a restart and will not work across replicas. Set it to the output of "
                                     "`head -c32 /dev/urandom | base64`.");
      }
    }
    if (auto r = global("cookie_name")) {
      if (auto s = as_string(*r)) {
        if (!valid_header_name(*s)) problem(*r, "expected a cookie name (letters, digits, - and _), got " + describe(*r));
        else settings_.cookie_name = *s;
        settings_.authenticate_cookie_name = settings_.cookie_name + "_authenticate";
        settings_.csrf_cookie_name = settings_.cookie_name + "_csrf";
      }
    }
    if (auto r = global("cookie_domain")) {
      if (auto s = as_string(*r)) settings_.cookie_domain = core::to_lower(core::trim(*s));
    }
    if (auto r = global("cookie_expire")) {
      if (auto d = as_duration(*r)) {
        if (d->count() <= 0) problem(*r, "expected a positive duration such as 14h");
        else settings_.cookie_expire = *d;
      }
    }
    if (auto r = global("cookie_http_only")) {
      if (auto b = as_bool(*r)) settings_.cookie_http_only = *b;
    }
    if (auto r = global("cookie_secure")) {
      if (auto b = as_bool(*r)) settings_.cookie_secure = *b;
    }
    if (auto r = global("cookie_same_site")) {
      if (auto s = as_string(*r)) {
        const std::string v = core::to_lower(core::trim(*s));
        if (v == "strict" || v == "lax" || v == "none" || v.empty()) settings_.cookie_same_site = v;
        else problem(*r, "expected strict, lax or none, got " + describe(*r));
      }
    }
    std::optional<Raw> key_raw = global("signing_key");
    std::optional<std::string> key_text;
    if (key_raw) key_text = as_string(*key_raw);
    else if ((key_raw = global("signing_key_file"))) key_text = file_contents(*key_raw);
    if (key_raw && key_text) {
      std::string pem(core::trim(*key_text));
      if (pem.find("-----BEGIN") == std::string::npos) {
        if (auto decoded = core::base64_decode(pem)) pem = *decoded;
      }
      if (auto error = check_ec_p256_key(pem)) problem(*key_raw, *error);
      else settings_.signing_key_pem = pem;
    }
    if (auto r = global("jwt_claims_headers")) {
      if (!r->from_env && r->node.IsMap()) {
        if (auto m = as_map(*r)) settings_.jwt_claims_headers = std::move(*m);
      } else if (r->from_env && core::trim(r->env_text).starts_with("{")) {
        if (auto m = as_map(*r)) settings_.jwt_claims_headers = std::move(*m);
      } else if (auto l = as_list(*r)) {
        for (const auto& claim : *l) settings_.jwt_claims_headers.emplace_back("X-Pomerium-Claim-" + claim, claim);
      }
      for (const auto& [header, claim] : settings_.jwt_claims_headers)
        if (!valid_header_name(header)) problem(*r, "\"" + header + "\" is not a valid header name");
    }
    if (auto r = global("pass_identity_headers")) {
      if (auto b = as_bool(*r)) settings_.pass_identity_headers = *b;
    }
    if (auto r = global("signout_redirect_url")) {
      if (auto u = service_url(*r, true)) settings_.signout_redirect_url = std::string(core::trim(*as_string(*r)));
    }
    if (auto r = global("programmatic_redirect_domain_whitelist")) {
      if (auto l = as_list(*r)) {
        for (auto& d : *l) d = core::to_lower(d);
        settings_.programmatic_redirect_domain_whitelist = std::move(*l);
      }
    }
    if (auto r = global("authorize_log_fields")) {
      if (auto l = as_list(*r)) {
        std::vector<std::string> fields;
        for (const auto& f : *l) {
          if (std::find(std::begin(authorize_log_field_names), std::end(authorize_log_field_names), f) !=
              std::end(authorize_log_field_names)) {
            fields.push_back(f);
          } else if (f == "query" || f == "headers" || f == "body" || f == "id-token" || f == "id-token-claims" ||
                     f == "session-id" || f == "impersonate-session-id") {
            warn_once("authorize_log_fields." + f, r->location.where + ": authorize_log_fields: " + f +
                                                        " is never logged by Postern (it can carry secrets)");
          } else if (f == "impersonate-user-id" || f == "impersonate-email" || f == "removed-groups-count" ||
                     f == "service-account-id" || f == "envoy-route-checksum" || f == "envoy-route-id" ||
                     f == "route-checksum" || f == "cluster-stat-name") {
            warn_once("authorize_log_fields." + f, r->location.where + ": authorize_log_fields: " + f +
                                                        " does not apply to Postern (ignored)");
          } else {
            std::string known;
            for (auto n : authorize_log_field_names) known += (known.empty() ? "" : ", ") + std::string(n);
            problem(*r, "unknown field \"" + f + "\" (expected some of " + known + ")");
          }
        }
        settings_.authorize_log_fields = std::move(fields);
      }
    }
  }

  void warn_about_keys() {
    if (root_ && root_.IsMap()) {
      for (const auto& kv : root_) {
        if (!kv.first.IsScalar()) continue;
        const std::string key = kv.first.Scalar();
        const std::string where = at(kv.first).where;
        switch (global_key_status(key)) {
          case KeyStatus::implemented: break;
          case KeyStatus::not_supported_yet:
            warn_once(key, where + ": not supported yet: " + key + " (accepted and ignored)");
            break;
          case KeyStatus::unknown:
            warn_once(key, where + ": unknown config option: " + key + " (ignored)");
            break;
        }
      }
    }
    std::size_t count = 0;
    const std::string_view* pending = pending_global_keys(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string key(pending[i]);
      const std::string env_name = core::to_upper(key);
      if (env_.get(env_name)) {
        warn_once(key, "environment variable " + env_name + ": not supported yet: " + key + " (accepted and ignored)");
      }
    }
  }

  void parse_address(const Raw& r, const std::string& text, ListenAddress* out = nullptr) {
    if (!out) out = &settings_.address;
    const std::string_view s = core::trim(text);
    std::string host;
    std::string_view port_text;
    if (s.starts_with('[')) {
      const auto close = s.find(']');
      if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
        problem(r, "expected [host]:port such as :443, 127.0.0.1:8443 or [::1]:8443, got " + describe(r));
        return;
      }
      host = std::string(s.substr(1, close - 1));
      port_text = s.substr(close + 2);
    } else {
      const auto colon = s.rfind(':');
      if (colon == std::string_view::npos) {
        problem(r, "expected [host]:port such as :443, 127.0.0.1:8443 or [::1]:8443, got " + describe(r));
        return;
      }
      host = std::string(s.substr(0, colon));
      port_text = s.substr(colon + 1);
    }
    unsigned long port = 0;
    bool ok = !port_text.empty() && port_text.size() <= 5;
    for (const char c : port_text) {
      if (c < '0' || c > '9') ok = false;
      else port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!ok || port > 65535) {
      problem(r, "expected a port number from 0 to 65535 in " + describe(r));
      return;
    }
    if (host.empty()) host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    auto addr = boost::urls::parse_ipv4_address(host);
    if (!addr) {
      auto addr6 = boost::urls::parse_ipv6_address(host);
      if (!addr6) {
        problem(r, "expected an IP address (or localhost) before the port, got \"" + host + "\"");
        return;
      }
    }
    *out = {host, static_cast<std::uint16_t>(port)};
  }

  void decode_certificates() {
    std::optional<std::string> cert, key;
    std::string origin;
    auto single_cert = global("certificate");
    auto single_key = global("certificate_key");
    auto cert_file = global("certificate_file");
    auto key_file = global("certificate_key_file");
    if (single_cert || single_key) {
      if (!single_cert || !single_key) {
        const Raw& r = single_cert ? *single_cert : *single_key;
        problem(r, "certificate and certificate_key must be set together");
      } else {
        cert = base64_pem(*single_cert);
        key = base64_pem(*single_key);
        if (cert && key) add_certificate(*single_cert, *cert, *key);
      }
    }
    if (cert_file || key_file) {
      if (!cert_file || !key_file) {
        const Raw& r = cert_file ? *cert_file : *key_file;
        problem(r, "certificate_file and certificate_key_file must be set together");
      } else {
        auto c = file_contents(*cert_file);
        auto k = file_contents(*key_file);
        if (c && k) add_certificate(*cert_file, *c, *k);
      }
    }
    if (auto list = global("certificates")) {
      if (list->from_env) {
        // Pomerium's env form is a JSON list of {cert, key}; accept it as YAML (a superset of JSON).
        try {
          list->node = YAML::Load(list->env_text);
        } catch (const YAML::Exception&) {
          problem(*list, "expected a JSON list of {\"cert\": FILE, \"key\": FILE}");
          return;
        }
        list->from_env = false;
      }
      if (!list->node.IsSequence()) {
        problem(*list, "expected a list of {cert: FILE, key: FILE}, got " + describe(list->node));
        return;
      }
      std::size_t i = 0;
      for (const auto& item : list->node) {
        const std::string prefix = "certificates[" + std::to_string(i++) + "].";
        if (!item.IsMap()) {
          problem(at(item), prefix.substr(0, prefix.size() - 1), "expected a map with cert and key");
          continue;
        }
        auto c = child(item, "cert", prefix, *this);
        auto k = child(item, "key", prefix, *this);
        if (!c || !k) {
          problem(at(item), prefix.substr(0, prefix.size() - 1), "expected both cert and key");
          continue;
        }
        auto cert_pem = pem_from_path_or_base64(*c);
        auto key_pem = pem_from_path_or_base64(*k);
        if (cert_pem && key_pem) add_certificate(*c, *cert_pem, *key_pem);
      }
    }
  }

  // `certificates[]` entries are file paths (Pomerium HEAD); v0.19 also accepted base64 PEM.
  std::optional<std::string> pem_from_path_or_base64(const Raw& r) {
    auto s = as_string(r);
    if (!s) return std::nullopt;
    if (auto decoded = core::base64_decode(core::trim(*s)); decoded && decoded->find("-----BEGIN") != std::string::npos)
      return decoded;
    return file_contents(r);
  }

  void add_certificate(const Raw& r, const std::string& cert_pem, const std::string& key_pem) {
    if (auto error = check_certificate_pair(cert_pem, key_pem)) {
      problem(r, *error);
      return;
    }
    settings_.certificates.push_back({cert_pem, key_pem, r.location.where + " (" + r.key + ")"});
  }

  void decode_response_headers() {
    HeaderList headers = {{"X-Frame-Options", "SAMEORIGIN"}, {"X-XSS-Protection", "1; mode=block"}};
    if (!settings_.certificates.empty())
      headers.insert(headers.begin(),
                     {"Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"});
    if (auto r = global("set_response_headers")) {
      if (auto configured = as_map(*r)) {
        bool disable = false;
        for (const auto& [name, value] : *configured) disable = disable || core::iequals(name, "disable");
        if (disable) {
          headers.clear();
        } else {
          for (const auto& header : *configured) {
            if (!check_header(*r, header.first, header.second)) continue;
            std::erase_if(headers, [&](const auto& h) { return core::iequals(h.first, header.first); });
            headers.push_back(header);
          }
        }
      }
    }
    settings_.set_response_headers = std::move(headers);
  }

  // A configured header: a valid name and a value without line breaks. Reports the problem; false when there is one.
  bool check_header(const Raw& r, const std::string& name, const std::string& value) {
    if (!valid_header_name(name)) {
      problem(r, "\"" + name + "\" is not a valid header name");
      return false;
    }
    if (!valid_header_value(value)) {
      problem(r, "the value of \"" + name + "\" contains a line break");
      return false;
    }
    return true;
  }

  static bool valid_header_name(std::string_view name) {
    if (name.empty()) return false;
    for (const char c : name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
    return true;
  }

  static bool valid_header_value(std::string_view value) {
    for (const char c : value)
      if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
  }

  // ---- routes -----------------------------------------------------------------------------------------------------
  void decode_routes() {
    // `policy` first, then `routes`, each from its environment variable (base64 YAML) or the file.
    struct Source {
      YAML::Node list;
      std::string key, label;
    };
    std::vector<Source> sources;
    for (const char* key : {"policy", "routes"}) {
      const std::string env_name = core::to_upper(key);
      if (auto text = env_.get(env_name)) {
        auto yaml = core::base64_decode(core::trim(*text));
        if (!yaml) {
          problem({"environment variable " + env_name}, key, "expected base64 of a YAML list of routes");
          continue;
        }
        YAML::Node list;
        const std::string label = "environment variable " + env_name + " (decoded YAML)";
        try {
          list = YAML::Load(*yaml);
        } catch (const YAML::Exception& e) {
          problem({label + ":" + std::to_string(e.mark.line + 1)}, key, "YAML syntax error: " + e.msg);
          continue;
        }
        std::size_t budget = max_checked_nodes;
        check_duplicate_keys(list, key, budget);
        sources.push_back({list, key, label});
      } else if (root_ && root_.IsMap() && root_[key].IsDefined() && !root_[key].IsNull()) {
        sources.push_back({root_[key], key, label_});
      }
    }
    // Client certificates are enforced on every route when any CA is configured, the global one or a route's
    // (Pomerium does the same), so the routes' CAs are known before any route is compiled.
    for (const auto& src : sources)
      if (src.list.IsSequence())
        for (const auto& route : src.list)
          if (route.IsMap() && (route["tls_downstream_client_ca"] || route["tls_downstream_client_ca_file"]))
            any_route_client_ca_ = true;
    check_mtls_needs_ca();
    for (const auto& src : sources) {
      const std::string saved = label_;
      label_ = src.label;
      decode_route_list(src.list, src.key);
      label_ = saved;
    }
  }

  void decode_route_list(const YAML::Node& list, const std::string& key) {
    if (!list.IsSequence()) {
      problem(at(list), key, "expected a list of routes, got " + describe(list));
      return;
    }
    std::size_t i = 0;
    for (const auto& item : list) decode_route(item, key + "[" + std::to_string(i++) + "]");
  }

  void decode_route(const YAML::Node& node, const std::string& name) {
    if (!node.IsMap()) {
      problem(at(node), name, "expected a route (a map with from and to), got " + describe(node));
      return;
    }
    const std::size_t before = problems_.size();
    RouteSettings route;
    route.location = at(node);
    route.index = settings_.routes.size();
    const std::string prefix = name + ".";
    bool has_redirect_or_response = false;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) continue;
      const std::string key = kv.first.Scalar();
      const std::string where = at(kv.first).where;
      if (is_cluster_option(key)) continue;
      if (is_unimplemented_cluster_field(key)) {
        warn_once("route." + key, where + ": " + key + " is an Envoy cluster option Postern does not implement (in " +
                                      name + "; ignored)");
        continue;
      }
      switch (route_key_status(key)) {
        case KeyStatus::implemented: break;
        case KeyStatus::not_supported_yet:
          warn_once("route." + key, where + ": not supported yet: " + key + " (in " + name + "; accepted and ignored)");
          if (key == "redirect" || key == "response") has_redirect_or_response = true;
          break;
        case KeyStatus::unknown:
          warn_once("route." + key, where + ": unknown config option: " + key + " (in " + name + "; ignored)");
          break;
      }
    }
    auto get = [&](const char* key) { return child(node, key, prefix, *this); };

    if (auto r = get("from")) {
      if (auto s = as_string(*r)) parse_from(*r, *s, route);
    } else {
      problem(route.location, prefix + "from", "every route needs from: an http(s)://host[:port] URL");
    }
    if (auto r = get("to")) {
      parse_to(*r, route);
    } else if (!has_redirect_or_response) {
      problem(route.location, prefix + "to", "every route needs to: one URL or a list of \"url[,weight]\"");
    }
    if (auto r = get("prefix")) {
      if (auto s = as_string(*r)) {
        if (!s->starts_with('/')) problem(*r, "expected a path prefix starting with /, got " + describe(*r));
        route.prefix = *s;
        warn_unless_normal(*r, *s);
      }
    }
    if (auto r = get("path")) {
      if (auto s = as_string(*r)) {
        if (!s->starts_with('/')) problem(*r, "expected a path starting with /, got " + describe(*r));
        route.path = *s;
        warn_unless_normal(*r, *s);
      }
    }
    if (auto r = get("regex")) {
      if (auto s = as_string(*r)) {
        route.regex = *s;
        check_regex(*r, *s);
      }
    }
    if (int(!route.prefix.empty()) + int(!route.path.empty()) + int(!route.regex.empty()) > 1)
      problem(route.location, name, "set at most one of prefix, path and regex");
    if (route.tcp && (!route.prefix.empty() || !route.path.empty() || !route.regex.empty()))
      problem(route.location, name, "a TCP route (tcp+https://) matches a host and port only: no prefix, path or regex");
    if (auto r = get("prefix_rewrite")) {
      if (auto s = as_string(*r)) route.prefix_rewrite = *s;
    }
    if (auto r = get("regex_rewrite_pattern")) {
      if (auto s = as_string(*r)) {
        route.regex_rewrite_pattern = *s;
        check_regex(*r, *s);
      }
    }
    if (auto r = get("regex_rewrite_substitution")) {
      if (auto s = as_string(*r)) route.regex_rewrite_substitution = *s;
    }
    if (route.prefix_rewrite && !route.regex_rewrite_pattern.empty())
      problem(route.location, name, "prefix_rewrite and regex_rewrite_pattern cannot be used together");
    if (!route.regex_rewrite_substitution.empty() && route.regex_rewrite_pattern.empty())
      problem(route.location, prefix + "regex_rewrite_substitution", "needs regex_rewrite_pattern");
    if (auto r = get("preserve_host_header")) {
      if (auto b = as_bool(*r)) route.preserve_host_header = *b;
    }
    if (auto r = get("host_rewrite")) {
      if (auto s = as_string(*r)) {
        if (s->empty() || !valid_header_value(*s) || s->find_first_of(" /") != std::string::npos)
          problem(*r, "expected a host[:port], got " + describe(*r));
        route.host_rewrite = *s;
      }
    }
    if (auto r = get("set_request_headers")) {
      if (auto m = as_map(*r)) {
        for (const auto& [n, v] : *m) {
          check_header(*r, n, v);
          // Templates (Pomerium ≥ v0.23): the client-certificate ones are filled; others are not yet.
          for (std::size_t at_ = v.find("${"); at_ != std::string::npos; at_ = v.find("${", at_ + 2)) {
            const std::size_t close = v.find('}', at_);
            const std::string name = v.substr(at_ + 2, close == std::string::npos ? std::string::npos : close - at_ - 2);
            if (std::find(std::begin(header_templates), std::end(header_templates), name) ==
                std::end(header_templates))
              warn_once(r->key + "." + n + ".template",
                        r->location.where + ": " + r->key + ": " + n + ": the template ${" + name +
                            "} is not supported yet and expands to nothing (write $$ for a literal $)");
          }
        }
        route.set_request_headers = std::move(*m);
      }
    }
    if (auto r = get("remove_request_headers")) {
      if (auto l = as_list(*r)) {
        for (const auto& n : *l)
          if (!valid_header_name(n)) problem(*r, "\"" + n + "\" is not a valid header name");
        route.remove_request_headers = std::move(*l);
      }
    }
    if (auto r = get("set_response_headers")) {
      if (auto m = as_map(*r)) {
        for (const auto& [n, v] : *m) check_header(*r, n, v);
        route.set_response_headers = std::move(*m);
      }
    }
    if (auto r = get("timeout")) route.timeout = as_duration(*r);
    if (auto r = get("idle_timeout")) route.idle_timeout = as_duration(*r);
    if (auto r = get("allow_websockets")) {
      if (auto b = as_bool(*r)) route.allow_websockets = *b;
      // A websocket upgrade is an HTTP/1.1 exchange; an h2c:// upstream speaks HTTP/2 only (https:// upstreams of a
      // websocket route are offered HTTP/1.1 alone by ALPN).
      const bool h2c = std::any_of(route.to.begin(), route.to.end(), [](const auto& t) { return t.h2c(); });
      if (route.allow_websockets && h2c)
        problem(*r, "websockets need an HTTP/1.1 upstream: h2c:// targets speak HTTP/2 only");
    }
    if (auto r = get("tls_skip_verify")) {
      if (auto b = as_bool(*r)) route.tls_skip_verify = *b;
    }
    if (auto r = get("tls_server_name")) {
      if (auto s = as_string(*r)) route.tls_server_name = *s;
    }
    if (auto r = get("tls_custom_ca")) {
      if (auto pem = base64_pem(*r)) {
        if (auto error = check_ca_bundle(*pem)) problem(*r, *error);
        else route.tls_custom_ca_pem = *pem;
      }
    }
    if (auto r = get("tls_custom_ca_file")) {
      if (auto pem = file_contents(*r)) {
        if (auto error = check_ca_bundle(*pem)) problem(*r, *error);
        else route.tls_custom_ca_pem += *pem;
      }
    }
    // tls_upstream_server_name is the newer spelling of tls_server_name (both: SNI and the name verified).
    if (auto r = get("tls_upstream_server_name")) {
      if (auto s = as_string(*r)) {
        if (!route.tls_server_name.empty() && route.tls_server_name != *s)
          problem(*r, "tls_server_name and tls_upstream_server_name disagree; set one");
        route.tls_server_name = *s;
      }
    }
    decode_client_certificate(node, prefix, route);
    if (auto pem = pem_key(node, prefix, "tls_downstream_client_ca")) {
      if (auto error = check_ca_bundle(*pem)) problem(route.location, prefix + "tls_downstream_client_ca", *error);
      else route.tls_downstream_client_ca_pem = std::move(*pem);
    }
    {
      std::vector<OptionProblem> found;
      decode_cluster_options(node, prefix, route.to.size(), route.upstream, found);
      for (auto& p : found) {
        Location where{p.line >= 0 ? label_ + ":" + std::to_string(p.line + 1) : label_};
        if (p.warning) warn_once(p.key, where.where + ": " + p.key + ": " + p.message);
        else problem(std::move(where), std::move(p.key), std::move(p.message));
      }
      const bool h2c = std::any_of(route.to.begin(), route.to.end(), [](const auto& t) { return t.h2c(); });
      const bool http_check = std::any_of(route.upstream.health_checks.begin(), route.upstream.health_checks.end(),
                                          [](const auto& c) { return c.kind == HealthCheckSettings::Kind::http; });
      if (h2c && http_check)
        warn_once(prefix + "health_checks",
                  route.location.where + ": " + prefix + "health_checks: an http_health_check speaks HTTP/1.1; "
                  "against h2c:// targets it checks that a TCP connection opens");
    }
    if (auto r = get("pass_identity_headers")) route.pass_identity_headers = as_bool(*r);
    decode_authorization(node, name, route);
    if (problems_.size() == before) settings_.routes.push_back(std::move(route));
  }

  // ---- the Okta directory -------------------------------------------------------------------------------------
  // idp_service_account: base64 of a JSON object, or the JSON itself (both as Pomerium reads it). {"api_key": …} is
  // an SSWS API token; {"client_id", "private_key", "key_id"} an OAuth 2.0 service app. Problems never quote the
  // value: it is a credential.
  void decode_runtime_flags() {
    auto r = global("runtime_flags");
    if (!r) return;
    auto m = as_map(*r);
    if (!m) return;
    for (const auto& [name, value] : *m) {
      const auto b = value == "true" ? std::optional<bool>(true) : value == "false" ? std::optional<bool>(false) : std::nullopt;
      if (!b) {
        problem(*r, "runtime flag " + name + ": expected true or false, got \"" + value + "\"");
        continue;
      }
      if (name == "pomerium_jwt_endpoint") settings_.runtime_flags.pomerium_jwt_endpoint = *b;
      else if (name == "routes_portal") settings_.runtime_flags.routes_portal = *b;
      else warn_once("runtime_flags." + name, r->location.where + ": runtime_flags: " + name +
                                                  " is not a flag Postern reads; ignored");
    }
  }

  void decode_store() {
    auto& st = settings_.store;
    std::optional<Raw> type_raw = global("databroker_storage_type");
    if (type_raw) {
      if (auto t = as_string(*type_raw)) {
        const std::string type = core::to_lower(std::string(core::trim(*t)));
        if (type == "memory" || type == "inmemory") st.type = StoreSettings::Type::memory;
        else if (type == "postgres" || type == "postgresql") st.type = StoreSettings::Type::postgres;
        else if (type == "redis")
          problem(*type_raw, "the redis storage type is not supported (Pomerium dropped it too): use postgres, with "
                             "databroker_storage_connection_string, or memory for a single instance");
        else problem(*type_raw, "expected memory or postgres, got \"" + type + "\"");
      }
    }
    std::optional<Raw> dsn_raw = global("databroker_storage_connection_string");
    if (dsn_raw) {
      if (auto s = as_string(*dsn_raw)) st.connection_string = std::string(core::trim(*s));
    } else if ((dsn_raw = global("databroker_storage_connection_string_file"))) {
      if (auto s = file_contents(*dsn_raw)) st.connection_string = std::string(core::trim(*s));
    }
    if (st.type == StoreSettings::Type::postgres && st.connection_string.empty()) {
      if (dsn_raw) problem(*dsn_raw, "the connection string is empty");
      else problem(*type_raw, "databroker_storage_type postgres needs databroker_storage_connection_string (or "
                              "databroker_storage_connection_string_file), e.g. postgresql://postern@db:5432/postern");
    }
    if (st.type == StoreSettings::Type::memory && dsn_raw && !st.connection_string.empty())
      warn_once(dsn_raw->key, dsn_raw->location.where + ": " + dsn_raw->key +
                                  ": set, but databroker_storage_type is memory, so it is not used");
  }

  void decode_directory() {
    auto& d = settings_.directory;
    if (auto r = global("idp_refresh_directory_interval")) {
      if (auto v = as_duration(*r)) {
        if (v->count() <= 0) problem(*r, "expected a positive duration such as 10m");
        else d.refresh_interval = *v;
      }
    }
    if (auto r = global("idp_refresh_directory_timeout")) {
      if (auto v = as_duration(*r)) {
        if (v->count() <= 0) problem(*r, "expected a positive duration such as 1m");
        else d.refresh_timeout = *v;
      }
    }
    if (auto r = global("idp_directory_rate_limit_reserve")) {
      // A fraction (0.5) or a percentage ("50%"); at most 0.9, so Postern always keeps a tenth to sync with.
      std::string text = r->from_env ? r->env_text : (r->node.IsScalar() ? r->node.Scalar() : std::string());
      const bool percent = !text.empty() && text.back() == '%';
      if (percent) text.pop_back();
      double v = -1;
      try {
        std::size_t used = 0;
        v = std::stod(text, &used);
        if (used != text.size()) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
      if (percent) v /= 100;
      if (!(v >= 0 && v <= 0.9)) problem(*r, "expected a share between 0 and 0.9 (or 0% to 90%), such as 0.5");
      else d.rate_limit_reserve = v;
    }
    auto r = global("idp_service_account");
    if (!r) return;
    std::string text;
    if (r->from_env) text = r->env_text;
    else if (r->node.IsScalar()) text = r->node.Scalar();
    else {
      problem(*r, "expected base64 of a JSON object such as {\"api_key\": \"…\"} (or the JSON itself)");
      return;
    }
    std::string_view trimmed = core::trim(text);
    std::string json_text;
    if (trimmed.starts_with('{')) {
      json_text = std::string(trimmed);
    } else if (auto decoded = core::base64_decode(trimmed)) {
      json_text = std::move(*decoded);
    } else if (auto url_decoded = core::base64url_decode(trimmed)) {
      json_text = std::move(*url_decoded);
    } else {
      problem(*r, "expected base64 of a JSON object such as {\"api_key\": \"…\"} (or the JSON itself); the value "
                  "is neither");
      return;
    }
    boost::system::error_code ec;
    const auto v = boost::json::parse(json_text, ec);
    if (ec || !v.is_object()) {
      problem(*r, "the value is not a JSON object (expected {\"api_key\": \"…\"} or {\"client_id\": …, "
                  "\"private_key\": …, \"key_id\": …})");
      return;
    }
    const auto& o = v.as_object();
    auto string_member = [&](const char* key) -> std::string {
      const auto* m = o.if_contains(key);
      if (!m) return {};
      if (m->is_string()) return std::string(m->as_string());
      if (m->is_object() && std::string_view(key) == "private_key") return boost::json::serialize(*m);  // a JWK
      return {};
    };
    d.api_key = string_member("api_key");
    d.client_id = string_member("client_id");
    d.private_key = string_member("private_key");
    d.key_id = string_member("key_id");
    if (!d.api_key.empty()) {
      d.credential = DirectorySettings::Credential::api_token;
    } else if (!d.client_id.empty() && !d.private_key.empty()) {
      d.credential = DirectorySettings::Credential::oauth_app;
    } else {
      problem(*r, "expected an Okta API token ({\"api_key\": \"…\"}) or an OAuth service app ({\"client_id\": …, "
                  "\"private_key\": <PEM or JWK>, \"key_id\": …}); found neither");
    }
    if (d.configured() && settings_.idp.provider != "okta")
      warn_once("idp_service_account.provider", r->location.where +
                                                   ": idp_service_account is for Okta's directory; idp_provider is "
                                                   "not okta, so it will not be used");
  }

  // ---- authorization -----------------------------------------------------------------------------------------
  // The legacy allow keys (and v0.19 sub_policies), the route's `policy:`, show_error_details and policy_mode,
  // compiled into route.policy (and route.report_policy in report mode).
  void decode_authorization(const YAML::Node& node, const std::string& name, RouteSettings& route) {
    const std::string prefix = name + ".";
    auto get = [&](const char* key) { return child(node, key, prefix, *this); };
    const std::size_t before = problems_.size();
    authz::LegacyKeys& legacy = route.legacy;
    auto flag = [&](const char* key, bool& out) {
      if (auto r = get(key))
        if (auto b = as_bool(*r)) out = *b;
    };
    flag("allow_public_unauthenticated_access", legacy.public_access);
    flag("allow_any_authenticated_user", legacy.any_authenticated_user);
    flag("cors_allow_preflight", legacy.cors_preflight);
    flag("show_error_details", route.show_error_details);
    for (const auto& [key, out] : {std::pair{"name", &route.name}, std::pair{"description", &route.description},
                                   std::pair{"logo_url", &route.logo_url}})
      if (auto r = get(key))
        if (auto s = as_string(*r)) *out = std::string(core::trim(*s));
    read_allow_lists(node, prefix, legacy);
    if (auto r = get("sub_policies")) {
      if (!r->node.IsSequence()) {
        problem(*r, "expected a list of sub-policies, got " + describe(r->node));
      } else {
        std::size_t i = 0;
        for (const auto& sub : r->node) {
          const std::string sub_key = prefix + "sub_policies[" + std::to_string(i++) + "]";
          if (!sub.IsMap()) {
            problem(at(sub), sub_key, "expected a sub-policy (a map with allowed_users, allowed_domains, ...)");
            continue;
          }
          for (const auto& kv : sub) {
            const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
            if (k == "rego" && !(kv.second.IsSequence() && kv.second.size() == 0) && !kv.second.IsNull())
              problem(at(kv.second), sub_key + ".rego", "not supported: Rego policies (write the rule in policy: instead)");
            else if (k != "id" && k != "name" && k != "explanation" && k != "remediation" && k != "source_ppl" &&
                     k != "rego" && k != "allowed_users" && k != "allowed_domains" && k != "allowed_groups" &&
                     k != "allowed_idp_claims")
              warn_once(sub_key + "." + k, at(kv.first).where + ": unknown config option: " + k + " (in " + sub_key + "; ignored)");
          }
          read_allow_lists(sub, sub_key + ".", legacy);
        }
      }
    }
    if (legacy.any_authenticated_user && (!legacy.users.empty() || !legacy.domains.empty()))
      problem(route.location, prefix + "allow_any_authenticated_user",
              "cannot be combined with allowed_users or allowed_domains");
    if (legacy.public_access) {
      for (const char* k : {"allowed_users", "allowed_domains", "allowed_groups", "allowed_idp_claims",
                            "allow_any_authenticated_user"}) {
        if (node[k].IsDefined() && !node[k].IsNull())
          problem(at(node[k]), prefix + k, "cannot be combined with allow_public_unauthenticated_access");
      }
    }

    bool report = false;
    std::optional<authz::RuleSpec> mtls_deny;
    if (auto r = get("policy_mode")) {
      if (auto m = as_string(*r)) {
        if (*m == "report") report = true;
        else if (*m != "enforce") problem(*r, "expected enforce or report, got " + describe(*r));
      }
    }

    std::vector<authz::RuleSpec> ppl;
    if (auto r = get("policy")) {
      std::vector<authz::ParseProblem> found;
      authz::parse_policy(r->node, prefix + "policy", ppl, found);
      for (auto& p : found) {
        Location where{p.line >= 0 ? label_ + ":" + std::to_string(p.line + 1) : label_};
        if (p.warning) warn_once(p.key, where.where + ": " + p.key + ": " + p.message);
        else problem(std::move(where), std::move(p.key), std::move(p.message));
      }
      if (found.empty() && ppl.empty()) problem(*r, "the policy has no rules");
    }
    const bool route_ca = !route.tls_downstream_client_ca_pem.empty();
    if (authz::needs_client_certificates(ppl) && !settings_.downstream_mtls.configured() && !route_ca)
      problem(at(node["policy"]), prefix + "policy",
              "client_certificate and invalid_client_certificate need client certificates: set downstream_mtls.ca "
              "(or ca_file), or the route's tls_downstream_client_ca");
    if (problems_.size() != before) return;

    auto legacy_rule = authz::lower_legacy_keys(legacy);
    if (report) {
      if (!legacy_rule) {
        problem(at(node["policy_mode"]), prefix + "policy_mode",
                "report mode enforces the route's legacy allow keys (allowed_users, allowed_domains, "
                "allow_any_authenticated_user, ...) while it reports what enforcing policy: as well would decide, "
                "and this route has none: it would deny everyone");
        return;
      }
      if (ppl.empty())
        warn_once(prefix + "policy_mode", at(node["policy_mode"]).where + ": " + prefix +
                                              "policy_mode: report without a policy: reports nothing new");
    }
    std::vector<authz::RuleSpec> all;
    if (legacy_rule) all.push_back(*legacy_rule);
    for (auto& r : ppl) all.push_back(std::move(r));
    // Client certificates enforced (policy_with_default_deny, Pomerium's default, and reject_connection): every route
    // denies a request whose connection presented no certificate valid for it (a route's own CA, else the global
    // one; a route with neither accepts any, as in Pomerium). Under `policy`, only the route's rules decide.
    if ((settings_.downstream_mtls.configured() || any_route_client_ca_) &&
        settings_.downstream_mtls.enforcement != DownstreamMtlsSettings::Enforcement::policy) {
      authz::RuleSpec deny;
      deny.action = authz::Action::deny;
      deny.origin = route_ca ? "tls_downstream_client_ca" : "downstream_mtls (client certificates enforced)";
      deny.operators.push_back({authz::OperatorKind::or_,
                                {authz::simple_criterion(authz::CriterionKind::invalid_client_certificate)}});
      all.push_back(deny);
      mtls_deny = std::move(deny);
    }
    if (report) {
      // The legacy keys decide; the reported decision is exactly what enforce mode would decide (the legacy rule,
      // then policy:), so switching to enforce holds no surprise.
      std::vector<authz::RuleSpec> enforced{std::move(*legacy_rule)};
      if (mtls_deny) enforced.push_back(std::move(*mtls_deny));
      route.policy = std::make_shared<const authz::Policy>(std::move(enforced));
      route.report_policy = std::make_shared<const authz::Policy>(std::move(all));
    } else {
      route.policy = std::make_shared<const authz::Policy>(std::move(all));
    }
  }

  // allowed_users, allowed_domains, allowed_groups and allowed_idp_claims of a route or a sub-policy, appended.
  void read_allow_lists(const YAML::Node& node, const std::string& prefix, authz::LegacyKeys& legacy) {
    auto get = [&](const char* key) { return child(node, key, prefix, *this); };
    auto list = [&](const char* key, std::vector<std::string>& out) {
      if (auto r = get(key)) {
        if (auto l = as_list(*r)) {
          for (auto& v : *l) {
            if (v.empty()) problem(*r, "an empty entry (it would match nobody)");
            out.push_back(std::move(v));
          }
        }
      }
    };
    list("allowed_users", legacy.users);
    list("allowed_domains", legacy.domains);
    for (const auto* l : {&legacy.users, &legacy.domains}) {
      for (const auto& v : *l) {
        if ((l == &legacy.domains || v.find('@') != std::string::npos) && core::to_lower(v) != v)
          warn_once(prefix + "case." + v,
                    at(node[l == &legacy.domains ? "allowed_domains" : "allowed_users"]).where + ": " + prefix +
                        (l == &legacy.domains ? "allowed_domains" : "allowed_users") + ": \"" + v +
                        "\" has upper case; matching is exact and case-sensitive, as in Pomerium, so it matches only "
                        "an email written the same way");
      }
    }
    list("allowed_groups", legacy.groups);
    if (auto r = get("allowed_idp_claims")) {
      if (!r->node.IsMap()) {
        problem(*r, "expected a map of claim name to accepted values, got " + describe(r->node));
        return;
      }
      for (const auto& kv : r->node) {
        const std::string claim = kv.first.IsScalar() ? kv.first.Scalar() : "";
        std::vector<std::string> values;
        auto value = [&](const YAML::Node& v) {
          if (v.IsScalar()) values.push_back(v.Scalar());
          else problem(at(v), r->key + "." + claim, "expected a string or a list of strings, got " + describe(v));
        };
        if (kv.second.IsSequence()) {
          for (const auto& v : kv.second) value(v);
        } else {
          value(kv.second);
        }
        if (claim.empty()) problem(at(kv.first), r->key, "expected claim names as keys");
        else legacy.idp_claims.emplace_back(claim, std::move(values));
      }
    }
  }

  void check_regex(const Raw& r, const std::string& pattern);

  // Requests are matched after normalisation (normalize_path): a prefix or path written otherwise never matches.
  void warn_unless_normal(const Raw& r, const std::string& value) {
    if (!value.starts_with('/')) return;
    const auto n = normalize_path(value);
    if (n && *n == value) return;
    warn_once(r.key + ".normal", r.location.where + ": " + r.key + ": \"" + value +
                                     "\" never matches as written: request paths are normalised first" +
                                     (n ? " (write \"" + *n + "\")" : " (and this one would be refused with 400)"));
  }

  void parse_from(const Raw& r, const std::string& text, RouteSettings& route) {
    route.from = text;
    const std::string expected = "expected an http(s)://host[:port] URL without a path, got " + describe(r);
    std::string candidate(core::trim(text));
    const auto scheme_end = candidate.find("://");
    const std::string scheme = core::to_lower(candidate.substr(0, scheme_end));
    if (scheme == "udp+https" || scheme == "ssh") {
      problem(r, "not supported yet: " + scheme + " routes");
      return;
    }
    if (scheme == "tcp+https" || scheme == "tcp+http") {
      // A TCP tunnel: clients ask `CONNECT host:port`; the port is part of the name.
      // Parsed as the http(s) URL it names (the strict URL parser), after the "tcp+" prefix.
      auto u = core::parse_http_url(candidate.substr(4));
      if (!u || !u->explicit_port || !(u->rest.empty() || u->rest == "/") || candidate.find('*') != std::string::npos) {
        problem(r, "expected tcp+https://host:port (a TCP route names its port, without a path or wildcard), got " +
                       describe(r));
        return;
      }
      route.tcp = true;
      route.from_scheme = scheme;
      route.from_host = u->host;
      route.from_port = u->port;
      return;
    }
    // A leading "*." label is a wildcard: parse with a placeholder label, then put the star back.
    const bool wildcard = scheme_end != std::string::npos && candidate.compare(scheme_end + 3, 2, "*.") == 0;
    if (wildcard) candidate.replace(scheme_end + 3, 1, "wildcard");
    auto u = core::parse_http_url(candidate);
    if (!u) {
      problem(r, candidate.find('*') != std::string::npos
                     ? "a wildcard is only allowed as the first label, as in https://*.example.com"
                     : expected);
      return;
    }
    if (!(u->rest.empty() || u->rest == "/")) {
      problem(r, expected + (u->rest.size() > 1 ? " (use prefix or path to match paths)" : ""));
      return;
    }
    route.from_scheme = u->scheme;
    route.from_host = wildcard ? "*" + u->host.substr(std::string("wildcard").size()) : u->host;
    if (u->explicit_port) route.from_port = u->port;
  }

  void parse_to(const Raw& r, RouteSettings& route) {
    std::vector<std::pair<std::string, Location>> entries;
    if (r.node.IsScalar()) {
      entries.emplace_back(r.node.Scalar(), r.location);
    } else if (r.node.IsSequence()) {
      for (const auto& item : r.node) {
        if (!item.IsScalar()) {
          problem(at(item), r.key, "expected URL strings, found " + describe(item));
          return;
        }
        entries.emplace_back(item.Scalar(), at(item));
      }
    } else {
      problem(r, "expected one URL or a list of \"url[,weight]\", got " + describe(r.node));
      return;
    }
    if (entries.empty()) {
      problem(r, "expected at least one upstream URL");
      return;
    }
    std::size_t weighted = 0;
    for (const auto& [text, where] : entries) {
      std::string url_text(core::trim(text));
      UpstreamTarget target;
      const auto comma = url_text.rfind(',');
      if (comma != std::string::npos) {
        const std::string weight_text(core::trim(std::string_view(url_text).substr(comma + 1)));
        std::uint64_t w = 0;
        bool ok = !weight_text.empty() && weight_text.size() <= 9;
        for (const char c : weight_text) {
          if (c < '0' || c > '9') ok = false;
          else w = w * 10 + std::uint64_t(c - '0');
        }
        if (!ok || w == 0) {
          problem(where, r.key, "expected a positive whole-number weight after the comma in \"" + text + "\"");
          continue;
        }
        target.weight = static_cast<std::uint32_t>(w);
        ++weighted;
        url_text = std::string(core::trim(std::string_view(url_text).substr(0, comma)));
      }
      const std::string scheme = core::to_lower(url_text.substr(0, url_text.find("://")));
      if (route.tcp) {
        // A TCP route's upstream: tcp://host:port.
        auto u = scheme == "tcp" ? core::parse_http_url("http" + url_text.substr(3)) : std::nullopt;
        if (!u || !u->explicit_port || !(u->rest.empty() || u->rest == "/")) {
          problem(where, r.key, "a TCP route's upstream is tcp://host:port, got \"" + text + "\"");
          continue;
        }
        target.scheme = "tcp";
        target.host = u->host;
        target.port = u->port;
        target.url = url_text;
        route.to.push_back(std::move(target));
        continue;
      }
      if (url_text.find("://") != std::string::npos && scheme != "http" && scheme != "https" && scheme != "h2c") {
        problem(where, r.key,
                "not supported yet: upstream scheme \"" + scheme + "\" (use http, https or h2c) in \"" + text + "\"");
        continue;
      }
      // h2c://host:port — cleartext HTTP/2 with prior knowledge (gRPC services); parsed as the http URL it is.
      const bool h2c = scheme == "h2c";
      auto u = core::parse_http_url(h2c ? "http" + url_text.substr(3) : url_text);
      if (!u || u->rest.find_first_of("?#") != std::string::npos) {
        problem(where, r.key, "expected an absolute http(s) URL without user info, query or fragment, got \"" + text +
                                  "\"");
        continue;
      }
      target.scheme = h2c ? "h2c" : u->scheme;
      target.host = u->host;
      target.port = u->port;
      target.path = u->rest;
      target.url = url_text;
      target.host_header = target.authority();
      route.to.push_back(std::move(target));
    }
    if (weighted != 0 && weighted != entries.size())
      problem(r, "give every upstream a weight or none of them");
  }

  std::string label_;
  const Environment& env_;
  YAML::Node root_;
  Settings settings_;
  std::vector<Problem> problems_;
  std::set<std::string> warned_;
};

}  // namespace
}  // namespace postern::config

#include <re2/re2.h>

namespace postern::config {
namespace {
void Loader::check_regex(const Raw& r, const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(8 << 20);
  RE2 re(pattern, options);
  if (!re.ok()) problem(r, "invalid regular expression (RE2 syntax): " + re.error());
}
}  // namespace

Settings load_settings_from_text(const std::string& yaml_text, const std::string& label, const Environment& env) {
  Loader loader(label, env);
  Settings s = loader.load(yaml_text);
  s.config_file = label;
  return s;
}

Settings load_settings(const std::string& path, const Environment& env) {
  if (path.empty()) return load_settings_from_text("", "(environment)", env);
  std::string error;
  auto text = read_file(path, error);
  if (!text) throw ConfigErrors({Problem{{path}, "(file)", error}});
  Settings s = load_settings_from_text(*text, path, env);
  s.files.insert(s.files.begin(), path);
  return s;
}

}  // namespace postern::config
