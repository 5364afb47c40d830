#include "core/ip_address.h"

#include <gtest/gtest.h>

namespace postern::core {
namespace {

bool in(const char* range, const char* ip) { return parse_ip_range(range)->contains(*parse_ip(ip)); }

TEST(IpAddress, ParsesLiteralsOnly) {
  EXPECT_TRUE(parse_ip("10.1.2.3"));
  EXPECT_TRUE(parse_ip("2001:db8::1"));
  EXPECT_TRUE(parse_ip("[2001:db8::1]"));
  for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "example.com", "10.1.2.3:80", "1.2.3.256", "10.0.0.1%eth0"})
    EXPECT_FALSE(parse_ip(bad)) << bad;
  EXPECT_TRUE(parse_ip("::ffff:10.1.2.3")->v4);
  EXPECT_TRUE(parse_ip("fe80::1%eth0"));  // the zone names an interface
}

TEST(IpAddress, RangesContain) {
  EXPECT_TRUE(in("10.0.0.0/8", "10.255.0.1"));
  EXPECT_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(in("10.1.2.3/8", "10.9.9.9"));  // host bits ignored
  EXPECT_TRUE(in("192.168.1.0/25", "192.168.1.127"));
  EXPECT_FALSE(in("192.168.1.0/25", "192.168.1.128"));
  EXPECT_TRUE(in("0.0.0.0/0", "8.8.8.8"));
  EXPECT_FALSE(in("0.0.0.0/0", "::1"));  // families never mix
  EXPECT_TRUE(in("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(in("10.0.0.0/8", "::ffff:10.0.0.1"));
  EXPECT_TRUE(in("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(in("127.0.0.1", "127.0.0.2"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/a", "::/129", "x/8"})
    EXPECT_FALSE(parse_ip_range(bad)) << bad;
  EXPECT_EQ(parse_ip_range("10.1.2.3/8")->to_string(), "10.0.0.0/8");
}

}  // namespace
}  // namespace postern::core
