// The HTTP/2 request head Postern sends an upstream, from the HTTP/1.1 head the header rewriting wrote, and the
// HTTP/2 response head as the response header rewriting reads it.
#include <gtest/gtest.h>

#include <memory_resource>

#include "proxy/h2_forward.h"
#include "proxy/upstream_response.h"

namespace postern::proxy {
namespace {

std::string value_of(const H2Head& h, std::string_view name) {
  for (const auto& f : h.fields)
    if (f.name == name) return f.value;
  return "(absent)";
}

TEST(H2HeadFromHttp1, PseudoHeadersFromTheRequestLineAndHost) {
  const auto h = h2_head_from_http1(
      "POST /pkg.Svc/Call?x=1 HTTP/1.1\r\nHost: grpc.internal:50051\r\nContent-Type: application/grpc\r\n"
      "X-Request-Id: abc\r\n\r\n",
      false);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.path, "/pkg.Svc/Call?x=1");
  EXPECT_EQ(h.authority, "grpc.internal:50051");
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].name, "content-type");  // HTTP/2 field names are lower case
  EXPECT_EQ(h.fields[0].value, "application/grpc");
  EXPECT_EQ(h.fields[1].name, "x-request-id");
  EXPECT_EQ(value_of(h, "host"), "(absent)");
}

TEST(H2HeadFromHttp1, FramingDroppedTrailersKeptOnlyWhenAsked) {
  const std::string head =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: trailers, deflate\r\nContent-Length: 5\r\n\r\n";
  const auto without = h2_head_from_http1(head, false);
  EXPECT_EQ(value_of(without, "transfer-encoding"), "(absent)");
  EXPECT_EQ(value_of(without, "te"), "(absent)");
  EXPECT_EQ(value_of(without, "content-length"), "5");
  const auto with = h2_head_from_http1(head, true);
  EXPECT_EQ(value_of(with, "te"), "trailers");  // the only TE value HTTP/2 allows
}

TEST(H2HeadFromHttp1, ValuesTrimmedAndLinesWithoutColonIgnored) {
  const auto h = h2_head_from_http1("GET /x HTTP/1.1\r\nHost:  b \r\nnonsense\r\nX-A:\t1 2 \r\n\r\n", false);
  EXPECT_EQ(h.authority, "b");
  EXPECT_EQ(value_of(h, "x-a"), "1 2");
  EXPECT_EQ(h.fields.size(), 1u);
}

TEST(UpstreamResponseFromH2, FieldsKeepTheirOrderAndKnownNames) {
  std::pmr::monotonic_buffer_resource arena;
  std::vector<http2::Field> fields{{"content-type", "application/grpc"}, {"grpc-encoding", "identity"}};
  UpstreamResponse res(&arena);
  res.assign_h2(200, fields);
  EXPECT_EQ(res.result_int(), 200u);
  ASSERT_EQ(res.fields().size(), 2u);
  EXPECT_EQ(res.fields()[0].name, boost::beast::http::field::content_type);
  EXPECT_EQ(res.fields()[1].name, boost::beast::http::field::unknown);
  EXPECT_EQ(res["grpc-encoding"], "identity");
}

}  // namespace
}  // namespace postern::proxy
