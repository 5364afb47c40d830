#include "authz/legacy_policy.h"

#include <gtest/gtest.h>

using namespace postern;
using authz::Outcome;

namespace {
session::Session alice() {
  session::Session s;
  s.id = "s1";
  s.user_id = "00ualice";
  s.email = "Alice@Example.com";
  return s;
}
}  // namespace

TEST(LegacyPolicy, PublicRoutesNeedNoSession) {
  config::RouteSettings r;
  r.allow_public_unauthenticated_access = true;
  EXPECT_EQ(authz::authorize(r, nullptr).outcome, Outcome::allow);
}

TEST(LegacyPolicy, NoSessionMeansSignIn) {
  config::RouteSettings r;
  r.allow_any_authenticated_user = true;
  EXPECT_EQ(authz::authorize(r, nullptr).outcome, Outcome::sign_in_required);
}

TEST(LegacyPolicy, AllowListsMatchIdEmailAndDomain) {
  const auto s = alice();
  config::RouteSettings by_email;
  by_email.allowed_users = {"alice@example.com"};
  EXPECT_EQ(authz::authorize(by_email, &s).outcome, Outcome::allow);
  config::RouteSettings by_id;
  by_id.allowed_users = {"00ualice"};
  EXPECT_EQ(authz::authorize(by_id, &s).outcome, Outcome::allow);
  config::RouteSettings by_domain;
  by_domain.allowed_domains = {"example.com"};
  EXPECT_EQ(authz::authorize(by_domain, &s).outcome, Outcome::allow);
  config::RouteSettings other;
  other.allowed_users = {"bob@example.com"};
  other.allowed_domains = {"example.org"};
  EXPECT_EQ(authz::authorize(other, &s).outcome, Outcome::deny);
}

TEST(LegacyPolicy, ARouteWithNoAllowRuleDeniesEveryone) {
  const auto s = alice();
  config::RouteSettings r;
  EXPECT_EQ(authz::authorize(r, &s).outcome, Outcome::deny);
}

TEST(LegacyPolicy, UnsupportedPolicyKeysDenyEvenWithAnAllowRule) {
  const auto s = alice();
  config::RouteSettings r;
  r.allow_any_authenticated_user = true;
  r.unsupported_policy_keys = {"policy"};
  EXPECT_EQ(authz::authorize(r, &s).outcome, Outcome::deny);
}
