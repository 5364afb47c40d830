#include "config/loader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/base64.h"

using namespace postern::config;
using namespace std::chrono_literals;

namespace {

Settings load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  return load_settings_from_text(yaml, "test.yaml", Environment(std::move(env)));
}

// The problems a load reports, as "where: key: message" lines.
std::vector<std::string> problems(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  try {
    (void)load(yaml, std::move(env));
  } catch (const ConfigErrors& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.to_string());
    return out;
  }
  return {};
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

constexpr const char* minimal_route = R"(
routes:
  - from: https://app.example.com
    to: http://127.0.0.1:8080
)";

}  // namespace

TEST(Loader, AppliesPomeriumDefaults) {
  const auto s = load(minimal_route);
  EXPECT_EQ(s.address.host, "0.0.0.0");
  EXPECT_EQ(s.address.port, 443);
  EXPECT_FALSE(s.insecure_server);
  EXPECT_EQ(s.timeout_read, Duration(30s));
  EXPECT_EQ(s.timeout_write, Duration(0));
  EXPECT_EQ(s.timeout_idle, Duration(5min));
  EXPECT_EQ(s.default_upstream_timeout, Duration(30s));
  ASSERT_EQ(s.routes.size(), 1u);
  EXPECT_EQ(s.routes[0].from_host, "app.example.com");
  EXPECT_EQ(s.routes[0].to[0].port, 8080);
  // No certificate configured: no HSTS, the two other defaults.
  ASSERT_EQ(s.set_response_headers.size(), 2u);
  EXPECT_EQ(s.set_response_headers[0].first, "X-Frame-Options");
}

TEST(Loader, EnvironmentWinsOverTheFile) {
  const auto s = load("address: 127.0.0.1:8000\ninsecure_server: false\n",
                      {{"ADDRESS", "127.0.0.1:9000"}, {"INSECURE_SERVER", "true"}, {"TIMEOUT_IDLE", "1m30s"}});
  EXPECT_EQ(s.address.port, 9000);
  EXPECT_TRUE(s.insecure_server);
  EXPECT_EQ(s.timeout_idle, Duration(90s));
}

TEST(Loader, MapsFromTheEnvironmentAreJsonObjects) {
  const auto s = load("", {{"SET_RESPONSE_HEADERS", R"({"X-Test":"yes","X-Frame-Options":"DENY"})"}});
  bool test = false, frame = false;
  for (const auto& [n, v] : s.set_response_headers) {
    if (n == "X-Test" && v == "yes") test = true;
    if (n == "X-Frame-Options" && v == "DENY") frame = true;
  }
  EXPECT_TRUE(test);
  EXPECT_TRUE(frame);
  EXPECT_TRUE(any_contains(problems("", {{"SET_RESPONSE_HEADERS", "X-Test: yes"}}),
                           "environment variable SET_RESPONSE_HEADERS: set_response_headers: expected a JSON object"));
}

TEST(Loader, DisableClearsDefaultResponseHeaders) {
  EXPECT_TRUE(load("set_response_headers:\n  disable: true\n").set_response_headers.empty());
}

TEST(Loader, PolicyAndRoutesBothCountPolicyFirst) {
  const auto s = load(R"(
routes:
  - from: https://b.example.com
    to: http://b
policy:
  - from: https://a.example.com
    to: http://a
)");
  ASSERT_EQ(s.routes.size(), 2u);
  EXPECT_EQ(s.routes[0].from_host, "a.example.com");
  EXPECT_EQ(s.routes[1].from_host, "b.example.com");
}

TEST(Loader, PolicyEnvironmentVariableIsBase64Yaml) {
  const std::string yaml = "- from: https://env.example.com\n  to: http://upstream:81\n";
  const auto s = load("", {{"POLICY", postern::core::base64_encode(yaml)}});
  ASSERT_EQ(s.routes.size(), 1u);
  EXPECT_EQ(s.routes[0].from_host, "env.example.com");
  EXPECT_TRUE(any_contains(problems("", {{"POLICY", "not base64!"}}), "environment variable POLICY"));
}

TEST(Loader, ToAcceptsListsWithWeights) {
  const auto s = load(R"(
routes:
  - from: https://app.example.com
    to: ["http://a:1,3", "http://b:2,1"]
)");
  ASSERT_EQ(s.routes[0].to.size(), 2u);
  EXPECT_EQ(s.routes[0].to[0].weight, 3u);
  EXPECT_EQ(s.routes[0].to[1].host, "b");
  EXPECT_TRUE(any_contains(problems(R"(
routes:
  - from: https://app.example.com
    to: ["http://a:1,3", "http://b:2"]
)"),
                           "give every upstream a weight or none"));
}

TEST(Loader, ErrorsNameFileLineKeyAndExpectation) {
  const auto p = problems(R"(address: nonsense
timeout_read: abc
insecure_server: maybe
routes:
  - from: https://app.example.com/some/path
    to: http://127.0.0.1
  - from: https://ok.example.com
  - from: https://re.example.com
    to: http://x
    regex: "(unclosed"
)");
  EXPECT_TRUE(any_contains(p, "test.yaml:1: address: expected [host]:port"));
  EXPECT_TRUE(any_contains(p, "test.yaml:2: timeout_read: expected a duration"));
  EXPECT_TRUE(any_contains(p, "test.yaml:3: insecure_server: expected true or false"));
  EXPECT_TRUE(any_contains(p, "test.yaml:5: routes[0].from: expected an http(s)://host[:port] URL without a path"));
  EXPECT_TRUE(any_contains(p, "test.yaml:7: routes[1].to: every route needs to"));
  EXPECT_TRUE(any_contains(p, "test.yaml:10: routes[2].regex: invalid regular expression"));
}

TEST(Loader, YamlSyntaxErrorNamesTheLine) {
  const auto p = problems("address: :443\nroutes: [\n  - from: x\n");
  ASSERT_FALSE(p.empty());
  EXPECT_TRUE(any_contains(p, "YAML syntax error"));
  EXPECT_TRUE(any_contains(p, "test.yaml:"));
}

TEST(Loader, UnknownAndPendingKeysAreWarningsNotErrors) {
  const auto s = load(std::string("databroker_storage_cert_file: /x\nfancy_new_key: 1\n") + minimal_route +
                      "    allowed_groups: [admins]\n    connect_timeout: 5s\n");
  ASSERT_EQ(s.warnings.size(), 3u);
  EXPECT_TRUE(any_contains(s.warnings, "test.yaml:2: unknown config option: fancy_new_key"));
  EXPECT_TRUE(any_contains(s.warnings, "test.yaml:1: not supported yet: databroker_storage_cert_file"));
  EXPECT_TRUE(any_contains(s.warnings, "connect_timeout is an Envoy cluster option Postern does not implement"));
  // allowed_groups is implemented now: lowered onto the policy language.
  EXPECT_EQ(s.routes[0].legacy.groups, std::vector<std::string>{"admins"});
  ASSERT_TRUE(s.routes[0].policy);
  EXPECT_TRUE(s.routes[0].policy->uses(postern::authz::CriterionKind::groups));
}

TEST(Loader, StorageTypes) {
  EXPECT_TRUE(any_contains(problems(std::string("databroker_storage_type: redis\n") + minimal_route),
                           "test.yaml:1: databroker_storage_type: the redis storage type is not supported"));
  EXPECT_TRUE(any_contains(problems(std::string("databroker_storage_type: postgres\n") + minimal_route),
                           "needs databroker_storage_connection_string"));
  EXPECT_TRUE(any_contains(problems(std::string("databroker_storage_type: etcd\n") + minimal_route),
                           "expected memory or postgres"));
  const auto pg = load(std::string("databroker_storage_type: postgres\n"
                                   "databroker_storage_connection_string: postgresql://p@db/postern\n") +
                       minimal_route);
  EXPECT_EQ(pg.store.type, postern::config::StoreSettings::Type::postgres);
  EXPECT_EQ(pg.store.connection_string, "postgresql://p@db/postern");
  EXPECT_EQ(load(std::string("databroker_storage_type: memory\n") + minimal_route).store.type,
            postern::config::StoreSettings::Type::memory);
}

TEST(Loader, PublicAccessCannotBeCombinedWithAllowLists) {
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    allow_public_unauthenticated_access: true\n" +
                                    "    allowed_domains: [example.com]\n"),
                           "routes[0].allowed_domains: cannot be combined with allow_public_unauthenticated_access"));
}

TEST(Loader, FromAcceptsWildcardsAndPortsButNotPaths) {
  const auto s = load(R"(
routes:
  - from: https://*.Example.com
    to: http://x
  - from: http://app.example.com:8080
    to: http://x
)");
  EXPECT_EQ(s.routes[0].from_host, "*.example.com");
  EXPECT_EQ(s.routes[1].from_port, 8080);
  EXPECT_TRUE(any_contains(problems("routes:\n  - from: https://a.*.com\n    to: http://x\n"), "wildcard"));
  EXPECT_TRUE(any_contains(problems("routes:\n  - from: ftp://a.com\n    to: http://x\n"), "expected an http(s)"));
}

TEST(Loader, MissingSecretFileIsAnError) {
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    tls_custom_ca_file: /nonexistent/ca.pem\n"),
                           "routes[0].tls_custom_ca_file: cannot read file \"/nonexistent/ca.pem\""));
}

TEST(Loader, CertificateFromFilesIsCheckedAtLoad) {
  EXPECT_TRUE(any_contains(problems("certificate_file: /nonexistent.pem\ncertificate_key_file: /nonexistent.key\n"),
                           "certificate_file: cannot read file"));
  EXPECT_TRUE(any_contains(problems("certificate_file: /etc/hostname\n"), "must be set together"));
  const std::string bad = postern::core::base64_encode("not a pem");
  EXPECT_TRUE(any_contains(problems("certificate: " + bad + "\ncertificate_key: " + bad + "\n"),
                           "certificate: no PEM certificate found"));
}

TEST(Loader, TopLevelMustBeAMap) {
  EXPECT_TRUE(any_contains(problems("- just\n- a list\n"), "expected a map of settings"));
}

TEST(Loader, ConfigFileThatDoesNotExistIsAClearError) {
  try {
    (void)load_settings("/nonexistent/config.yaml", Environment());
    FAIL();
  } catch (const ConfigErrors& e) {
    EXPECT_NE(e.problems().front().to_string().find("cannot read file"), std::string::npos);
  }
}

namespace {
const std::string secret32 = postern::core::base64_encode(std::string(32, 's'));
std::string signin_globals(const std::string& extra = "") {
  return "authenticate_service_url: https://auth.example.com\nidp_provider: okta\n"
         "idp_provider_url: https://corp.okta.com\nidp_client_id: 0oa1\nidp_client_secret: s3cret\n"
         "shared_secret: " + secret32 + "\ncookie_secret: " + secret32 + "\n" + extra;
}
}  // namespace

TEST(LoaderSignIn, ReadsPomeriumSignInKeys) {
  const auto s = load(signin_globals("cookie_expire: 8h\njwt_claims_headers: [email, groups]\n") + minimal_route +
                      "    allowed_users: [alice@example.com]\n    allowed_domains: [Example.com]\n");
  EXPECT_EQ(s.idp.provider, "okta");
  EXPECT_EQ(s.idp.url.host, "corp.okta.com");
  EXPECT_EQ(s.idp.scopes, (std::vector<std::string>{"openid", "profile", "email", "offline_access"}));
  EXPECT_EQ(s.shared_secret.size(), 32u);
  EXPECT_EQ(s.cookie_expire, Duration(8h));
  ASSERT_EQ(s.jwt_claims_headers.size(), 2u);
  EXPECT_EQ(s.jwt_claims_headers[0].first, "X-Pomerium-Claim-email");
  // Exact and case-sensitive, as in Pomerium: the domain is kept as written.
  EXPECT_EQ(s.routes[0].legacy.domains, std::vector<std::string>{"Example.com"});
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("\"Example.com\" has upper case"), std::string::npos);
}

TEST(LoaderSignIn, RejectsUnknownProvidersAndShortSecretsWarnsOfPlainHttp) {
  EXPECT_TRUE(any_contains(problems(signin_globals(), {{"IDP_PROVIDER", "google"}}),
                           "environment variable IDP_PROVIDER: idp_provider: \"google\" is not an identity provider"));
  // Pomerium starts with a plain-http IdP on another host; Postern too, with one loud warning.
  EXPECT_TRUE(problems(signin_globals(), {{"IDP_PROVIDER_URL", "http://corp.okta.com"}}).empty());
  const auto plain = load(signin_globals(), {{"IDP_PROVIDER_URL", "http://corp.okta.com"}});
  EXPECT_EQ(plain.idp.url_text, "http://corp.okta.com");
  EXPECT_TRUE(any_contains(plain.warnings, "environment variable IDP_PROVIDER_URL: idp_provider_url: "));
  EXPECT_TRUE(any_contains(plain.warnings, "cross the network unencrypted"));
  EXPECT_FALSE(any_contains(load(signin_globals()).warnings, "unencrypted"));
  EXPECT_TRUE(problems(signin_globals(), {{"IDP_PROVIDER_URL", "http://127.0.0.1:9000/oauth2/default"}}).empty());
  EXPECT_TRUE(any_contains(problems(signin_globals(), {{"SHARED_SECRET", postern::core::base64_encode("short")}}),
                           "shared_secret: expected base64 of exactly 32 random bytes"));
  EXPECT_TRUE(any_contains(problems("idp_provider: oidc\n"), "idp_provider_url: is required"));
}

TEST(LoaderSignIn, MissingSecretsAreRandomWithAWarning) {
  const auto s = load("authenticate_service_url: https://auth.example.com\nidp_provider: oidc\n"
                      "idp_provider_url: https://idp.example.com\nidp_client_id: c\nidp_client_secret: s\n");
  EXPECT_TRUE(s.secrets_generated);
  EXPECT_EQ(s.cookie_secret.size(), 32u);
  EXPECT_TRUE(any_contains(s.warnings, "shared_secret is not set: using a random one"));
}

TEST(Loader, ConfiguredHeadersMayNotCarryLineBreaks) {
  EXPECT_TRUE(any_contains(problems("", {{"SET_RESPONSE_HEADERS", R"({"X-A":"1\r\nX-Injected: 2"})"}}),
                           "set_response_headers: the value of \"X-A\" contains a line break"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    set_request_headers: {\"Bad Name\": x}\n"),
                           "routes[0].set_request_headers: \"Bad Name\" is not a valid header name"));
}

// ---- authorization keys ---------------------------------------------------------------------------------------

TEST(LoaderPolicy, PolicyErrorsNameFileLineRouteAndKey) {
  const auto p = problems(std::string(minimal_route) + "    policy:\n      allow:\n        or:\n          - emial: x\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "test.yaml:8: routes[0].policy.allow.or[0].emial: unknown criterion \"emial\"");
}

TEST(LoaderPolicy, PolicyFromTheEnvironmentNamesTheDecodedLine) {
  const std::string routes = "- from: https://a.example.com\n  to: http://127.0.0.1:1\n  policy:\n    allow: {or: [{email: {is: [x]}}]}\n";
  const auto p = problems("", {{"ROUTES", postern::core::base64_encode(routes)}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].starts_with("environment variable ROUTES (decoded YAML):4: routes[0].policy.allow.or[0].email.is:"))
      << p[0];
}

TEST(LoaderPolicy, LegacyKeysAndPolicyCompileTogether) {
  const auto s = load(std::string(minimal_route) + R"(    allowed_users: [alice@example.com]
    allowed_groups: [00g1, admins]
    allowed_idp_claims: {department: [eng, ops], level: 3}
    cors_allow_preflight: true
    sub_policies:
      - id: sp1
        allowed_domains: [corp.example]
    policy:
      - deny: {or: [{http_method: DELETE}]}
)");
  const auto& r = s.routes[0];
  EXPECT_EQ(r.legacy.users, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(r.legacy.domains, std::vector<std::string>{"corp.example"});
  EXPECT_EQ(r.legacy.idp_claims.size(), 2u);
  EXPECT_TRUE(r.legacy.cors_preflight);
  ASSERT_TRUE(r.policy);
  const auto lines = r.policy->describe();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("allow (cors_allow_preflight, allowed_domains, allowed_users, allowed_groups, allowed_idp_claims)"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("claim/level has \"3\""), std::string::npos);
  EXPECT_EQ(lines[1], "deny (routes[0].policy[0]): or[http_method is \"DELETE\"]");
  EXPECT_TRUE(r.needs_session());
  EXPECT_FALSE(r.report_policy);
}

TEST(LoaderPolicy, PublicRoutesNeedNoSession) {
  const auto s = load(std::string(minimal_route) + "    allow_public_unauthenticated_access: true\n");
  EXPECT_FALSE(s.routes[0].needs_session());
  const auto t = load(std::string(minimal_route) + "    policy: {allow: {or: [{source_ip: 10.0.0.0/8}]}}\n");
  EXPECT_FALSE(t.routes[0].needs_session());
  EXPECT_TRUE(t.routes[0].policy->uses_source_ip());
}

TEST(LoaderPolicy, RefusedCombinations) {
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    allow_public_unauthenticated_access: true\n" +
                                    "    allowed_groups: [admins]\n"),
                           "routes[0].allowed_groups: cannot be combined with allow_public_unauthenticated_access"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) +
                                    "    policy: {deny: {or: [{invalid_client_certificate: true}]}}\n"),
                           "need client certificates: set downstream_mtls.ca"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    sub_policies:\n      - rego: ['allow = true']\n"),
                           "routes[0].sub_policies[0].rego: not supported: Rego policies"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    policy_mode: report\n" +
                                    "    policy: {allow: {or: [{email: a@b.c}]}}\n"),
                           "routes[0].policy_mode: report mode enforces the route's legacy allow keys"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    policy_mode: shadow\n"),
                           "expected enforce or report"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    allowed_idp_claims: [a]\n"),
                           "expected a map of claim name to accepted values"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "    allowed_users: ['']\n"), "an empty entry"));
}

TEST(LoaderPolicy, ReportModeEnforcesTheLegacyKeysAndReportsWhatEnforceWouldDo) {
  const auto s = load(std::string(minimal_route) + "    allowed_domains: [example.com]\n    policy_mode: report\n" +
                      "    policy: {allow: {or: [{groups: admins}]}}\n");
  const auto& r = s.routes[0];
  ASSERT_TRUE(r.policy && r.report_policy);
  EXPECT_FALSE(r.policy->uses(postern::authz::CriterionKind::groups));
  EXPECT_TRUE(r.report_policy->uses(postern::authz::CriterionKind::groups));
  EXPECT_TRUE(r.report_policy->uses(postern::authz::CriterionKind::domain));
}

TEST(LoaderPolicy, AuthorizeLogFields) {
  const auto s = load("authorize_log_fields: [request-id, email, id-token]\n");
  EXPECT_EQ(s.authorize_log_fields, (std::vector<std::string>{"request-id", "email"}));
  EXPECT_TRUE(any_contains(s.warnings, "id-token is never logged"));
  EXPECT_TRUE(any_contains(problems("authorize_log_fields: [colour]\n"), "unknown field \"colour\""));
  EXPECT_EQ(load("").authorize_log_fields.size(), 9u);
}

TEST(LoaderPolicy, DuplicateKeysAreErrorsNotSilentlyDropped) {
  const auto p = problems(std::string(minimal_route) + "    policy: {allow: {or: [{accept: true}]}}\n" +
                          "    policy: {deny: {or: [{http_method: DELETE}]}}\n");
  EXPECT_TRUE(any_contains(p, "test.yaml:6: routes[0].policy: duplicate key")) << (p.empty() ? "" : p[0]);
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) +
                                    "    policy:\n      deny:\n        or: [{http_method: DELETE}]\n        or: [{http_method: PUT}]\n"),
                           "routes[0].policy.deny.or: duplicate key"));
}

TEST(LoaderPolicy, WarnsAboutValuesThatCanNeverMatch) {
  const auto s = load(std::string(minimal_route) + "    prefix: /%7Euser/\n    allowed_domains: [Example.com]\n" +
                      "    allowed_users: [Alice@example.com, 00uAbC]\n");
  EXPECT_TRUE(any_contains(s.warnings, "routes[0].prefix: \"/%7Euser/\" never matches as written: request paths are "
                                       "normalised first (write \"/~user/\")"));
  EXPECT_TRUE(any_contains(s.warnings, "allowed_domains: \"Example.com\" has upper case"));
  EXPECT_TRUE(any_contains(s.warnings, "allowed_users: \"Alice@example.com\" has upper case"));
  EXPECT_FALSE(any_contains(s.warnings, "00uAbC"));  // user ids are case-sensitive ids, not emails
}

// ---- the Okta directory settings --------------------------------------------------------------------------------

TEST(LoaderDirectory, ServiceAccountAsBase64OrRawJson) {
  using postern::config::DirectorySettings;
  const std::string json = R"({"api_key":"00secret-token"})";
  const auto b64 = load(signin_globals("idp_service_account: " + postern::core::base64_encode(json) + "\n"));
  EXPECT_EQ(b64.directory.credential, DirectorySettings::Credential::api_token);
  EXPECT_EQ(b64.directory.api_key, "00secret-token");
  const auto raw = load(signin_globals(), {{"IDP_SERVICE_ACCOUNT", json}});
  EXPECT_EQ(raw.directory.api_key, "00secret-token");
  const auto app = load(signin_globals("idp_service_account: '" +
                                       std::string(R"({"client_id":"0oa1","private_key":{"kty":"RSA","n":"x"},"key_id":"k1"})") +
                                       "'\nidp_refresh_directory_interval: 30s\nidp_refresh_directory_timeout: 5s\n"));
  EXPECT_EQ(app.directory.credential, DirectorySettings::Credential::oauth_app);
  EXPECT_EQ(app.directory.client_id, "0oa1");
  EXPECT_EQ(app.directory.private_key, R"({"kty":"RSA","n":"x"})");
  EXPECT_EQ(app.directory.key_id, "k1");
  EXPECT_EQ(app.directory.refresh_interval, Duration(30s));
  EXPECT_EQ(app.directory.refresh_timeout, Duration(5s));
  EXPECT_EQ(load("").directory.refresh_interval, Duration(10min));
}

TEST(LoaderDirectory, BadServiceAccountsNameTheKeyButNeverTheValue) {
  for (const std::string value : {std::string("not-base64-and-not-json!!"), postern::core::base64_encode("[1,2]"),
                                  postern::core::base64_encode(R"({"token":"s3cr3t-value"})")}) {
    const auto p = problems(signin_globals("idp_service_account: '" + value + "'\n"));
    ASSERT_EQ(p.size(), 1u) << value;
    EXPECT_TRUE(p[0].starts_with("test.yaml:8: idp_service_account: ")) << p[0];
    EXPECT_EQ(p[0].find("s3cr3t"), std::string::npos);
    EXPECT_EQ(p[0].find(value), std::string::npos);
  }
  EXPECT_TRUE(any_contains(problems("idp_refresh_directory_interval: 0s\n"), "expected a positive duration"));
}

TEST(LoaderDirectory, RateLimitReserveIsAShareUpToNinetyPercent) {
  EXPECT_DOUBLE_EQ(load("").directory.rate_limit_reserve, 0.5);
  EXPECT_DOUBLE_EQ(load("idp_directory_rate_limit_reserve: 0.25\n").directory.rate_limit_reserve, 0.25);
  EXPECT_DOUBLE_EQ(load("idp_directory_rate_limit_reserve: 70%\n").directory.rate_limit_reserve, 0.7);
  EXPECT_DOUBLE_EQ(load("idp_directory_rate_limit_reserve: 0\n").directory.rate_limit_reserve, 0.0);
  for (const char* bad : {"0.95", "-0.1", "half", "50 %", "0.5x", "[1]"})
    EXPECT_TRUE(any_contains(problems(std::string("idp_directory_rate_limit_reserve: ") + bad + "\n"),
                             "test.yaml:1: idp_directory_rate_limit_reserve: expected a share between 0 and 0.9"))
        << bad;
}

TEST(Loader, TcpRoutes) {
  const auto s = load("routes:\n  - from: tcp+https://db.example.com:5432\n    to: tcp://10.0.0.5:5432\n"
                      "    allow_any_authenticated_user: true\n");
  ASSERT_EQ(s.routes.size(), 1u);
  EXPECT_TRUE(s.routes[0].tcp);
  EXPECT_EQ(s.routes[0].from_host, "db.example.com");
  EXPECT_EQ(s.routes[0].from_port, 5432);
  ASSERT_EQ(s.routes[0].to.size(), 1u);
  EXPECT_EQ(s.routes[0].to[0].scheme, "tcp");
  EXPECT_EQ(s.routes[0].to[0].port, 5432);
  EXPECT_TRUE(any_contains(problems("routes:\n  - from: tcp+https://db.example.com\n    to: tcp://10.0.0.5:5432\n"),
                           "a TCP route names its port"));
  EXPECT_TRUE(any_contains(problems("routes:\n  - from: tcp+https://db.example.com:5432\n    to: http://10.0.0.5\n"),
                           "a TCP route's upstream is tcp://host:port"));
  EXPECT_TRUE(any_contains(
      problems("routes:\n  - from: tcp+https://db.example.com:5432\n    to: tcp://10.0.0.5:1\n    prefix: /x\n"),
      "matches a host and port only"));
}

// ---- Envoy cluster options and downstream mTLS ----------------------------------------------------------------

constexpr const char* three_targets = R"(
routes:
  - from: https://app.example.com
    to: ["http://127.0.0.1:8081,1", "http://127.0.0.1:8082,1", "http://127.0.0.1:8083,3"]
)";

TEST(LoaderCluster, LbPolicySpellings) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, LbPolicy>>{
           {"ROUND_ROBIN", LbPolicy::round_robin}, {"least_request", LbPolicy::least_request},
           {"RANDOM", LbPolicy::random}, {"RING_HASH", LbPolicy::ring_hash}, {"maglev", LbPolicy::maglev}}) {
    EXPECT_EQ(load(std::string(three_targets) + "    lb_policy: " + text + "\n").routes[0].upstream.lb_policy, want)
        << text;
    EXPECT_EQ(load(std::string(three_targets) + "    load_balancing_policy: " + text + "\n").routes[0].upstream.lb_policy,
              want)
        << text;
  }
  EXPECT_TRUE(any_contains(problems(std::string(three_targets) + "    lb_policy: FASTEST\n"),
                           "test.yaml:5: routes[0].lb_policy: expected round_robin, least_request"));
  EXPECT_TRUE(any_contains(problems(std::string(three_targets) + "    lb_policy: RANDOM\n    load_balancing_policy: RANDOM\n"),
                           "not both"));
}

TEST(LoaderCluster, HealthChecksOutlierDetectionAndPanic) {
  const auto s = load(std::string(three_targets) + R"(    lb_policy: RING_HASH
    ring_hash_lb_config: {minimum_ring_size: 2048}
    hash_policy: [{header: {header_name: X-Tenant}}]
    health_checks:
      - timeout: 1s
        interval: 2s
        initial_jitter: 100ms
        unhealthy_threshold: 2
        healthy_threshold: 1
        http_health_check: {path: /healthz, host: probe.internal, expected_statuses: [{start: 200, end: 300}]}
      - {timeout: 1s, interval: 5s, unhealthy_threshold: 1, healthy_threshold: 2, tcp_health_check: {}}
    outlier_detection: {consecutive_5xx: 3, base_ejection_time: 10s, max_ejection_percent: 50, interval: 1s}
    healthy_panic_threshold: 40
)");
  const auto& u = s.routes[0].upstream;
  EXPECT_EQ(u.ring_minimum_size, 2048u);
  EXPECT_EQ(u.hash_header, "x-tenant");
  ASSERT_EQ(u.health_checks.size(), 2u);
  EXPECT_EQ(u.health_checks[0].kind, HealthCheckSettings::Kind::http);
  EXPECT_EQ(u.health_checks[0].path, "/healthz");
  EXPECT_EQ(u.health_checks[0].host, "probe.internal");
  EXPECT_EQ(u.health_checks[0].expected_statuses, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{200, 300}}));
  EXPECT_EQ(u.health_checks[0].unhealthy_threshold, 2u);
  EXPECT_EQ(u.health_checks[1].kind, HealthCheckSettings::Kind::tcp);
  EXPECT_TRUE(u.outlier.enabled);
  EXPECT_EQ(u.outlier.consecutive_5xx, 3u);
  EXPECT_EQ(u.outlier.base_ejection_time, std::chrono::seconds(10));
  EXPECT_EQ(u.outlier.max_ejection_percent, 50u);
  EXPECT_DOUBLE_EQ(u.healthy_panic_threshold, 40);
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(LoaderCluster, BadValuesNameTheKeyAndLine) {
  auto p = problems(std::string(three_targets) + "    health_checks: [{interval: 2s, unhealthy_threshold: 1, "
                                                 "healthy_threshold: 1, http_health_check: {path: /}}]\n");
  EXPECT_TRUE(any_contains(p, "test.yaml:5: routes[0].health_checks[0].timeout: a health check needs timeout"));
  p = problems(std::string(three_targets) + "    maglev_lb_config: {table_size: 1000}\n");
  EXPECT_TRUE(any_contains(p, "routes[0].maglev_lb_config.table_size: must be a prime number"));
  p = problems(std::string(three_targets) + "    outlier_detection: {max_ejection_percent: 101}\n");
  EXPECT_TRUE(any_contains(p, "routes[0].outlier_detection.max_ejection_percent: expected a whole number from 0 to 100"));
  p = problems(std::string(three_targets) + "    healthy_panic_threshold: {value: 150}\n");
  EXPECT_TRUE(any_contains(p, "routes[0].healthy_panic_threshold: expected a percentage"));
  const auto s = load(std::string(three_targets) +
                      "    outlier_detection: {consecutive_5xx: 2, success_rate_minimum_hosts: 3}\n    circuit_breakers: {}\n");
  EXPECT_TRUE(any_contains(s.warnings, "routes[0].outlier_detection.success_rate_minimum_hosts: an Envoy outlier "
                                       "detection option Postern does not implement"));
  EXPECT_TRUE(any_contains(s.warnings, "circuit_breakers is an Envoy cluster option Postern does not implement"));
}

TEST(LoaderOperations, MetricsHealthAndTracingKeys) {
  // "user:pass" in base64.
  const auto s = load(std::string(minimal_route) + R"(metrics_address: 127.0.0.1:9090
metrics_basic_auth: dXNlcjpwYXNz
health_check_addr: 127.0.0.1:0
health_check_systemd_disabled: true
otel_traces_exporter: otlp
otel_exporter_otlp_endpoint: http://127.0.0.1:4318/
otel_exporter_otlp_headers: {Authorization: Bearer abc}
otel_exporter_otlp_timeout: 2s
otel_traces_sampler_arg: 0.25
)");
  ASSERT_TRUE(s.metrics.address);
  EXPECT_EQ(s.metrics.address->port, 9090);
  EXPECT_EQ(s.metrics.basic_auth, "user:pass");
  ASSERT_TRUE(s.health.address);
  EXPECT_TRUE(s.health.address_configured);
  EXPECT_TRUE(s.health.systemd_disabled);
  EXPECT_TRUE(s.tracing.enabled);
  EXPECT_EQ(s.tracing.endpoint, "http://127.0.0.1:4318/v1/traces");
  ASSERT_EQ(s.tracing.headers.size(), 1u);
  EXPECT_EQ(s.tracing.headers[0].second, "Bearer abc");
  EXPECT_EQ(s.tracing.timeout, 2s);
  EXPECT_DOUBLE_EQ(s.tracing.sample_ratio, 0.25);
  for (const auto& w : s.warnings) EXPECT_EQ(w.find("not supported yet"), std::string::npos) << w;
}

TEST(LoaderOperations, DefaultsAndEnvironmentForms) {
  const auto d = load(minimal_route);
  EXPECT_FALSE(d.metrics.address);
  ASSERT_TRUE(d.health.address);  // Pomerium's default, 127.0.0.1:28080
  EXPECT_EQ(d.health.address->port, 28080);
  EXPECT_FALSE(d.health.address_configured);
  EXPECT_FALSE(d.tracing.enabled);
  const auto e = load(minimal_route, {{"OTEL_TRACES_EXPORTER", "otlp"},
                                      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://otel.example.com/v1/traces"},
                                      {"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-team=a"},
                                      {"OTEL_EXPORTER_OTLP_TIMEOUT", "500"}});
  EXPECT_EQ(e.tracing.endpoint, "https://otel.example.com/v1/traces");
  ASSERT_EQ(e.tracing.headers.size(), 2u);
  EXPECT_EQ(e.tracing.headers[1].first, "x-team");
  EXPECT_EQ(e.tracing.timeout, 500ms);
  EXPECT_FALSE(load(std::string(minimal_route) + "health_check_addr: \"\"\n").health.address);  // "": off
}

TEST(LoaderOperations, BadValuesNameTheKeyAndNeverEchoSecrets) {
  const auto p = problems(std::string(minimal_route) + R"(metrics_basic_auth: bm9jb2xvbg==
otel_traces_exporter: jaeger
otel_exporter_otlp_protocol: grpc
otel_traces_sampler_arg: 2
metrics_certificate: bm90IGEgcGVt
)");
  EXPECT_TRUE(any_contains(p, "test.yaml:5: metrics_basic_auth: expected base64 of user:password"));
  EXPECT_FALSE(any_contains(p, "nocolon"));
  EXPECT_TRUE(any_contains(p, "otel_traces_exporter: expected otlp or none"));
  EXPECT_TRUE(any_contains(p, "otel_exporter_otlp_protocol: OTLP over gRPC is not supported"));
  EXPECT_TRUE(any_contains(p, "otel_traces_sampler_arg: expected a sampling ratio from 0 to 1"));
  EXPECT_TRUE(any_contains(p, "metrics_certificate and metrics_certificate_key go together"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "otel_traces_exporter: otlp\n"),
                           "otlp traces need otel_exporter_otlp_endpoint"));
  EXPECT_TRUE(any_contains(problems(std::string(minimal_route) + "otel_exporter_otlp_endpoint: ftp://x\n"),
                           "expected an http(s):// URL"));
}

TEST(LoaderOperations, FilesReadAreListedForTheWatcher) {
  const std::string dir = ::testing::TempDir();
  const std::string secret = dir + "/postern-loader-secret", config = dir + "/postern-loader-config.yaml";
  { std::ofstream(secret) << "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n"; }
  { std::ofstream(config) << minimal_route << "shared_secret_file: " << secret << "\n"; }
  const auto s = load_settings(config, Environment(std::map<std::string, std::string>{}));
  ASSERT_EQ(s.files.size(), 2u);
  EXPECT_EQ(s.files[0], config);
  EXPECT_EQ(s.files[1], secret);
}

// to: h2c://host[:port] is Pomerium's spelling for a cleartext HTTP/2 upstream (gRPC services).
TEST(Loader, H2cUpstreams) {
  const auto s = load(R"(
routes:
  - from: https://grpc.example.com
    to: [h2c://grpc.internal:50051, "H2C://10.0.0.7"]
)");
  ASSERT_EQ(s.routes.size(), 1u);
  const auto& to = s.routes[0].to;
  ASSERT_EQ(to.size(), 2u);
  EXPECT_EQ(to[0].scheme, "h2c");
  EXPECT_TRUE(to[0].h2c());
  EXPECT_FALSE(to[0].tls());
  EXPECT_EQ(to[0].port, 50051);
  EXPECT_EQ(to[0].host_header, "grpc.internal:50051");
  EXPECT_EQ(to[1].port, 80);
  EXPECT_EQ(to[1].host_header, "10.0.0.7");
  EXPECT_TRUE(any_contains(problems(R"(
routes:
  - from: https://grpc.example.com
    to: h2c://grpc.internal:50051
    allow_websockets: true
)"), "test.yaml:5: routes[0].allow_websockets: websockets need an HTTP/1.1 upstream"));
  EXPECT_TRUE(any_contains(problems(R"(
routes:
  - from: https://a.example.com
    to: ftp://files.internal
)"), "use http, https or h2c"));
}
