#include "proxy/wire.h"

#include <gtest/gtest.h>

using namespace postern;
namespace http = boost::beast::http;

TEST(Wire, WritesARequestHead) {
  proxy::RequestHeader req;
  req.method(http::verb::post);
  req.target("/a?b=c");
  req.version(11);
  req.set(http::field::host, "up:8080");
  req.set("X-Custom", "1");
  std::string out;
  proxy::append_request_head(req, out);
  EXPECT_EQ(out, "POST /a?b=c HTTP/1.1\r\nHost: up:8080\r\nX-Custom: 1\r\n\r\n");
}

TEST(Wire, WritesAResponseHeadWithTheReasonPhrase) {
  proxy::ResponseHeader res;
  res.result(http::status::not_found);
  res.version(11);
  std::string out;
  proxy::append_response_head(res, out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\n\r\n");
}

TEST(Wire, ChunkSizeLinesAreHex) {
  char buf[24];
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(500, buf)), "1f4\r\n");
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(65536, buf)), "10000\r\n");
  EXPECT_EQ(std::string(buf, proxy::chunk_size_line(1, buf)), "1\r\n");
}
