#include "proxy/upstream_response.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <memory_resource>
#include <string>

using namespace postern;
namespace http = boost::beast::http;

namespace {

// Feeds `wire` to a parser and collects the body through a `chunk`-byte buffer, as the relay does.
struct Parsed {
  std::string body;
  boost::system::error_code ec;
  bool done = false;
};

Parsed relay(proxy::UpstreamResponseParser& p, std::string wire, std::size_t chunk) {
  Parsed out;
  std::string buf(chunk, '\0');
  std::string_view rest = wire;
  p.body_limit(boost::none);
  while (!p.is_done()) {
    auto& b = p.get().body();
    b.data = buf.data();
    b.size = buf.size();
    const auto n = p.put(boost::asio::buffer(rest.data(), rest.size()), out.ec);
    rest.remove_prefix(n);
    out.body.append(buf.data(), buf.size() - p.get().body().size);
    if (out.ec == http::error::need_buffer) out.ec = {};
    else if (out.ec) break;
    if (n == 0 && p.get().body().size == buf.size() && !p.is_done()) {
      if (p.need_eof()) p.put_eof(out.ec);
      break;
    }
  }
  out.done = p.is_done();
  return out;
}

}  // namespace

TEST(UpstreamResponse, HeadIsKeptFlatInOrderAndOutlivesTheInput) {
  std::pmr::monotonic_buffer_resource arena;
  proxy::UpstreamResponseParser p(&arena);
  std::string wire =
      "HTTP/1.1 201 Made It\r\nServer: test\r\nSet-Cookie: a=1\r\nX-Custom:   padded   \r\nSet-Cookie: b=2\r\n"
      "Content-Length: 0\r\n\r\n";
  boost::system::error_code ec;
  p.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_done());
  wire.assign(wire.size(), 'x');  // the head must not point into the input
  const auto& res = p.get();
  EXPECT_EQ(res.result_int(), 201u);
  EXPECT_EQ(res.reason(), "Made It");
  EXPECT_EQ(res.version(), 11u);
  ASSERT_EQ(res.fields().size(), 5u);
  EXPECT_EQ(res.fields()[0].name, http::field::server);
  EXPECT_EQ(res.fields()[1].value, "a=1");
  EXPECT_EQ(res.fields()[2].name, http::field::unknown);
  EXPECT_EQ(res.fields()[2].name_string, "X-Custom");
  EXPECT_EQ(res.fields()[2].value, "padded");
  EXPECT_EQ(res.fields()[3].value, "b=2");
  EXPECT_EQ(res["x-custom"], "padded");
  EXPECT_EQ(res["absent"], "");
}

TEST(UpstreamResponse, BodiesArriveThroughTheCallersBuffer) {
  for (const std::size_t chunk : {1u, 3u, 64u}) {
    std::pmr::monotonic_buffer_resource arena;
    proxy::UpstreamResponseParser sized(&arena);
    const auto a = relay(sized, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", chunk);
    EXPECT_FALSE(a.ec) << a.ec.message();
    EXPECT_TRUE(a.done);
    EXPECT_EQ(a.body, "hello world");

    proxy::UpstreamResponseParser chunked(&arena);
    const auto b = relay(chunked,
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
                         "Trailer: x\r\n\r\n",
                         chunk);
    EXPECT_FALSE(b.ec) << b.ec.message();
    EXPECT_TRUE(b.done);
    EXPECT_TRUE(chunked.chunked());
    EXPECT_EQ(b.body, "hello world");

    proxy::UpstreamResponseParser until_close(&arena);
    const auto c = relay(until_close, "HTTP/1.1 200 OK\r\n\r\nto the end", chunk);
    EXPECT_FALSE(c.ec) << c.ec.message();
    EXPECT_TRUE(c.done);
    EXPECT_EQ(c.body, "to the end");
  }
}

TEST(UpstreamResponse, BrokenResponsesAreErrors) {
  const char* broken[] = {
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/9.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "garbage\r\n\r\n",
  };
  for (const char* wire : broken) {
    std::pmr::monotonic_buffer_resource arena;
    proxy::UpstreamResponseParser p(&arena);
    const auto r = relay(p, wire, 16);
    EXPECT_TRUE(r.ec) << wire;
  }
}

TEST(UpstreamResponse, HeaderLimitHolds) {
  std::pmr::monotonic_buffer_resource arena;
  proxy::UpstreamResponseParser p(&arena);
  p.header_limit(1024);
  std::string wire = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  boost::system::error_code ec;
  p.put(boost::asio::buffer(wire), ec);
  EXPECT_EQ(ec, http::error::header_limit);
}
