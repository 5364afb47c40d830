#include "app/restart_settings.h"

#include <gtest/gtest.h>

namespace postern::app {
namespace {

TEST(RestartSettings, KeepsRunningValuesAndNamesWhatChanged) {
  config::Settings running, next;
  running.address = {"127.0.0.1", 8443};
  next.address = {"127.0.0.1", 9443};
  running.shared_secret = next.shared_secret = std::string(32, 'a');
  running.cookie_secret = next.cookie_secret = std::string(32, 'b');
  running.idp.provider = next.idp.provider = "okta";
  running.idp.client_secret = "one";
  next.idp.client_secret = "two";
  next.timeout_idle = std::chrono::seconds(7);  // applies live
  const auto changed = keep_restart_only_settings(running, next);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0], "address");
  EXPECT_NE(changed[1].find("idp_"), std::string::npos);
  EXPECT_EQ(next.address.port, 8443);
  EXPECT_EQ(next.idp.client_secret, "one");
  EXPECT_EQ(next.timeout_idle, std::chrono::seconds(7));
}

TEST(RestartSettings, GeneratedSecretsStayTheProcesssOwnSilently) {
  config::Settings running, next;
  running.shared_secret = std::string(32, 'a');
  running.secrets_generated = true;
  next.shared_secret = std::string(32, 'z');  // made up again by the reload's loader
  next.secrets_generated = true;
  EXPECT_TRUE(keep_restart_only_settings(running, next).empty());
  EXPECT_EQ(next.shared_secret, std::string(32, 'a'));
}

TEST(RestartSettings, AConfiguredSecretChangeNeedsARestart) {
  config::Settings running, next;
  running.shared_secret = std::string(32, 'a');
  next.shared_secret = std::string(32, 'c');
  const auto changed = keep_restart_only_settings(running, next);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(next.shared_secret, std::string(32, 'a'));
}

}  // namespace
}  // namespace postern::app
