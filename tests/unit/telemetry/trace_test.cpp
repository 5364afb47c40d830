#include "telemetry/trace.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace postern::telemetry {
namespace {

constexpr std::string_view example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Trace, ParsesW3cExample) {
  const auto tp = parse_traceparent(example);
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id.data(), 16), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(tp->parent_id.data(), 8), "00f067aa0ba902b7");
  EXPECT_TRUE(tp->sampled);
  char out[traceparent_size];
  format_traceparent(out, tp->trace_id, tp->parent_id, true);
  EXPECT_EQ(std::string_view(out, sizeof out), example);
}

TEST(Trace, RefusesWhatTheSpecificationRefuses) {
  for (const std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",        // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",     // 00 with extra fields
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",       // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       // zero parent
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       // upper case
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // separator
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  // A later version may carry more fields after a '-'.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
}

TEST(Trace, RatioSamplingIsStablePerTraceAndRoughlyTheRatio) {
  TraceId id{};
  int sampled = 0;
  for (int i = 0; i < 10000; ++i) {
    std::uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1);
    for (int b = 0; b < 8; ++b) id[8 + b] = static_cast<std::uint8_t>(x >> (8 * b));
    const bool s = sampled_by_ratio(id, 0.25);
    EXPECT_EQ(s, sampled_by_ratio(id, 0.25));
    sampled += s;
  }
  EXPECT_NEAR(sampled / 10000.0, 0.25, 0.03);
  EXPECT_TRUE(sampled_by_ratio(id, 1.0));
  EXPECT_FALSE(sampled_by_ratio(id, 0.0));
}

TEST(Trace, EncodesOtlpJson) {
  SpanRecord s;
  s.trace_id[15] = 1;
  s.span_id[7] = 2;
  s.parent_id[7] = 3;
  s.name = "GET https://app.example.com";
  s.start_unix_ns = 1000;
  s.end_unix_ns = 2000;
  s.error = true;
  s.attributes.emplace_back("http.response.status_code", std::int64_t{503});
  s.attributes.emplace_back("pomerium.decision", std::string("allow"));
  const auto v = boost::json::parse(encode_otlp_json({s}, "postern", "1.2.3"));
  const auto& span = v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").at(0);
  EXPECT_EQ(span.at("traceId").as_string(), "00000000000000000000000000000001");
  EXPECT_EQ(span.at("spanId").as_string(), "0000000000000002");
  EXPECT_EQ(span.at("parentSpanId").as_string(), "0000000000000003");
  EXPECT_EQ(span.at("kind").as_int64(), 2);
  EXPECT_EQ(span.at("startTimeUnixNano").as_string(), "1000");
  EXPECT_EQ(span.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(span.at("attributes").at(0).at("value").at("intValue").as_string(), "503");
  EXPECT_EQ(span.at("attributes").at(1).at("value").at("stringValue").as_string(), "allow");
  EXPECT_EQ(v.at("resourceSpans").at(0).at("resource").at("attributes").at(0).at("value").at("stringValue").as_string(),
            "postern");
}

TEST(Trace, EncodesSeveralSpansWithEscapedTextAsValidJson) {
  SpanRecord server;
  server.trace_id[0] = 0xab;
  server.span_id[0] = 0xcd;
  server.name = "GET \"quoted\" \\ path\n";
  server.attributes.emplace_back("url.path", std::string("/a\x01b\"c"));
  server.attributes.emplace_back("http.response.status_code", std::int64_t{-1});
  SpanRecord client = server;
  client.kind = SpanRecord::Kind::client;
  client.parent_id = server.span_id;
  client.attributes.clear();
  const auto text = encode_otlp_json({server, client}, "svc \"x\"", "1.0");
  const auto v = boost::json::parse(text);  // throws on invalid JSON
  const auto& spans = v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_FALSE(spans[0].as_object().contains("parentSpanId"));  // a root span has none
  EXPECT_EQ(spans[0].at("name").as_string(), "GET \"quoted\" \\ path\n");
  EXPECT_EQ(spans[0].at("attributes").at(0).at("value").at("stringValue").as_string(), "/a\x01b\"c");
  EXPECT_EQ(spans[0].at("attributes").at(1).at("value").at("intValue").as_string(), "-1");
  EXPECT_EQ(spans[0].at("status").at("code").as_int64(), 0);
  EXPECT_EQ(spans[1].at("kind").as_int64(), 3);
  EXPECT_EQ(spans[1].at("parentSpanId").as_string(), "cd00000000000000");
  EXPECT_TRUE(spans[1].at("attributes").as_array().empty());
  EXPECT_EQ(v.at("resourceSpans").at(0).at("resource").at("attributes").at(0).at("value").at("stringValue").as_string(),
            "svc \"x\"");
  EXPECT_EQ(v.at("resourceSpans").at(0).at("scopeSpans").at(0).at("scope").at("version").as_string(), "1.0");
  EXPECT_TRUE(encode_otlp_json({}, "p", "1").find("\"spans\":[]") != std::string::npos);
}

}  // namespace
}  // namespace postern::telemetry
