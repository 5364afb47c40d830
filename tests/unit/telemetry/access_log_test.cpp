#include "telemetry/access_log.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

namespace postern {
namespace json = boost::json;

namespace {

telemetry::AccessRecord record() {
  telemetry::AccessRecord r;
  r.request_id = "0123456789abcdef0123456789abcdef";
  r.method = "GET";
  r.host = "app.example.com";
  r.path = "/a/b";
  r.status = 200;
  r.duration_ms = 1.2346;
  r.upstream = "http://127.0.0.1:8081";
  r.bytes_in = 17;
  r.bytes_out = 100;
  r.client_ip = "127.0.0.1";
  return r;
}

}  // namespace

TEST(AccessLog, OneJsonObjectPerLineWithEveryField) {
  const std::string line = telemetry::AccessLog::format(record());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto v = json::parse(line).as_object();
  EXPECT_EQ(v.at("request_id").as_string(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(v.at("method").as_string(), "GET");
  EXPECT_EQ(v.at("host").as_string(), "app.example.com");
  EXPECT_EQ(v.at("path").as_string(), "/a/b");
  EXPECT_EQ(v.at("status").as_int64(), 200);
  EXPECT_DOUBLE_EQ(v.at("duration_ms").as_double(), 1.235);
  EXPECT_EQ(v.at("upstream").as_string(), "http://127.0.0.1:8081");
  EXPECT_EQ(v.at("bytes_in").as_int64(), 17);
  EXPECT_EQ(v.at("bytes_out").as_int64(), 100);
  EXPECT_EQ(v.at("client_ip").as_string(), "127.0.0.1");
  EXPECT_EQ(v.at("protocol").as_string(), "HTTP/1.1");
  const auto time = std::string(v.at("time").as_string());
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(AccessLog, HostileStringsStayInsideTheirField) {
  auto r = record();
  // Quotes, backslashes, line breaks and other control bytes, at every position relative to the 8-byte fast path.
  std::string path = "/x\"y\\z\n\r\t\x01\x1f";
  for (int i = 0; i < 20; ++i) path += i % 3 == 0 ? std::string("\"") : std::string("abcdefg");
  path += std::string("\0tail", 5);
  std::string host = "evil\"}\n{\"status\":1";
  r.path = path;
  r.host = host;
  const std::string line = telemetry::AccessLog::format(r);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a raw line break would split the record";
  const auto v = json::parse(line).as_object();
  EXPECT_EQ(v.at("path").as_string(), path);
  EXPECT_EQ(v.at("host").as_string(), host);
  EXPECT_EQ(v.at("status").as_int64(), 200);
}

TEST(AccessLog, UnicodeAndLongValuesRoundTrip) {
  auto r = record();
  std::string path = "/caf\xc3\xa9/";
  path += std::string(100000, 'a');
  r.path = path;
  const auto v = json::parse(telemetry::AccessLog::format(r)).as_object();
  EXPECT_EQ(v.at("path").as_string(), path);
}

}  // namespace postern

namespace postern {

// Lines go out through the writer thread, in order, whole, none lost — across many buffer hand-overs.
TEST(AccessLog, EveryLineReachesStdoutInOrder) {
  constexpr int lines = 5000;  // ~1.2 MB: several full buffers
  std::vector<std::string> ids;
  ids.reserve(lines);
  testing::internal::CaptureStdout();
  {
    telemetry::AccessLog log;
    for (int i = 0; i < lines; ++i) {
      ids.push_back("req-" + std::to_string(i));
      auto r = record();
      r.request_id = ids.back();
      log.append(r);
    }
    log.flush();
    telemetry::flush_access_logs();
  }
  const std::string out = testing::internal::GetCapturedStdout();
  std::size_t start = 0;
  int n = 0;
  while (start < out.size()) {
    const auto end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const auto v = json::parse(std::string_view(out).substr(start, end - start)).as_object();
    ASSERT_EQ(v.at("request_id").as_string(), "req-" + std::to_string(n));
    ++n;
    start = end + 1;
  }
  EXPECT_EQ(n, lines);
}

}  // namespace postern

TEST(AuthorizeLog, OneJsonLineWithTheSelectedFieldsAndThePreEscapedReasons) {
  using namespace postern::telemetry;
  const ReasonText reasons[] = {{"no allow rule holds"}, {"policy[0] allow.or: email is \\\"a@b.c\\\"", " → false"}};
  AuthorizeRecord r;
  r.fields = authorize_fields({"request-id", "email", "groups-count"});
  r.request_id = "abc";
  r.method = "GET";  // not selected
  r.email = "quote\"d@example.com";
  r.groups_count = 3;
  r.decision = "deny";
  r.allow = "false";
  r.deny = "false";
  r.mode = "enforce";
  r.reasons = reasons;
  const std::string line = format_authorize_line(r);
  const auto v = boost::json::parse(line);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("msg").as_string(), "authorize check");
  EXPECT_EQ(o.at("request-id").as_string(), "abc");
  EXPECT_EQ(o.at("email").as_string(), "quote\"d@example.com");
  EXPECT_EQ(o.at("groups-count").as_int64(), 3);
  EXPECT_FALSE(o.contains("method"));
  EXPECT_EQ(o.at("decision").as_string(), "deny");
  ASSERT_EQ(o.at("reasons").as_array().size(), 2u);
  EXPECT_EQ(o.at("reasons").as_array()[1].as_string(), "policy[0] allow.or: email is \"a@b.c\" → false");
  EXPECT_EQ(line.back(), '\n');
}
