// The HTTP/2 server codec against a raw client: normal exchanges, the RFC 9113 rules the proxy relies on, and every
// hostile pattern the issue names (rapid reset, CONTINUATION flood, SETTINGS/PING/empty-DATA floods, oversized
// header lists, a client that never opens its window, too many streams).
#include "http2/server_session.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "h2_test_client.h"

namespace postern::http2 {
namespace {

using test::Client;
using test::Frame;

struct Recorder : ServerSession::Handler {
  std::map<std::int32_t, Request> requests;
  std::map<std::int32_t, std::string> bodies;
  std::vector<std::int32_t> ended, roomy;
  std::map<std::int32_t, std::uint32_t> closed;
  ServerSession* session = nullptr;
  bool answer = false;  // respond 200 "ok" to every request at once

  void on_request(std::int32_t stream, Request r) override {
    requests[stream] = std::move(r);
    if (answer) {
      const Field f[] = {{"content-type", "text/plain"}};
      session->respond(stream, 200, f, true);
      session->send_body(stream, "ok");
      session->end_body(stream);
    }
  }
  void on_body(std::int32_t stream, std::string_view bytes) override { bodies[stream] += bytes; }
  void on_body_end(std::int32_t stream) override { ended.push_back(stream); }
  void on_closed(std::int32_t stream, std::uint32_t code) override { closed[stream] = code; }
  void on_body_room(std::int32_t stream) override { roomy.push_back(stream); }
};

struct Fixture : ::testing::Test {
  Recorder rec;
  Client client;
  Limits limits;
  std::unique_ptr<ServerSession> server;

  void start(const Limits& l = {}) {
    limits = l;
    server = std::make_unique<ServerSession>(rec, limits);
    rec.session = server.get();
  }
  std::deque<std::vector<Frame>> seen;  // every batch stays alive: tests keep pointers into them
  // The server's frames written since the last call.
  const std::vector<Frame>& output() {
    std::string out;
    EXPECT_TRUE(server->collect_output(out, 1 << 24));
    return seen.emplace_back(client.read(out));
  }
  static const Frame* find(const std::vector<Frame>& frames, std::uint8_t type, std::int32_t stream = -1) {
    for (const auto& f : frames)
      if (f.type == type && (stream < 0 || f.stream == stream)) return &f;
    return nullptr;
  }
};

TEST_F(Fixture, ServesARequestAndItsResponse) {
  start();
  rec.answer = true;
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, Client::get("/x?y=1"), true)));
  ASSERT_EQ(rec.requests.count(1), 1u);
  const Request& r = rec.requests[1];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.authority, "app.example.test");
  EXPECT_EQ(r.path, "/x?y=1");
  EXPECT_FALSE(r.has_body);
  const auto frames = output();
  ASSERT_NE(find(frames, NGHTTP2_SETTINGS), nullptr);  // the server's SETTINGS come first
  EXPECT_EQ(frames.front().type, NGHTTP2_SETTINGS);
  const Frame* h = find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->header(":status"), "200");
  EXPECT_EQ(h->header("content-type"), "text/plain");
  const Frame* d = find(frames, NGHTTP2_DATA, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->payload, "ok");
  EXPECT_TRUE(d->end_stream());
  EXPECT_EQ(rec.closed.count(1), 1u);  // closed once the END_STREAM went out
  EXPECT_EQ(rec.closed[1], 0u);
  EXPECT_EQ(server->open_streams(), 0u);
}

TEST_F(Fixture, RequestBodiesStreamAndEnd) {
  start();
  auto post = Client::get("/upload");
  post[0].second = "POST";
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, post, false) + Client::data(1, "hello ", false) +
                              Client::data(1, "world", true)));
  EXPECT_TRUE(rec.requests[1].has_body);
  EXPECT_EQ(rec.bodies[1], "hello world");
  ASSERT_EQ(rec.ended.size(), 1u);
  EXPECT_EQ(rec.ended[0], 1);
}

TEST_F(Fixture, CookieCrumbsAreJoinedAndHostStandsInForAuthority) {
  start();
  test::Headers h{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"host", "Legacy.Example.Test"},
                    {"cookie", "a=1"}, {"x-other", "v"}, {"cookie", "b=2"}};
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, h, true)));
  const Request& r = rec.requests[1];
  EXPECT_EQ(r.authority, "Legacy.Example.Test");
  ASSERT_EQ(r.fields.size(), 2u);
  EXPECT_EQ(r.fields[0].name, "cookie");
  EXPECT_EQ(r.fields[0].value, "a=1; b=2");
  EXPECT_EQ(r.fields[1].name, "x-other");
}

TEST_F(Fixture, HostThatDisagreesWithAuthorityIsA400) {
  start();
  auto h = Client::get("/", "app.example.test");
  h.emplace_back("host", "evil.example.test");
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, h, true)));
  EXPECT_TRUE(rec.requests.empty());  // never reaches the proxy
  const auto frames = output();
  const Frame* f = find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->header(":status"), "400");
  // The same host in another case is the same host.
  auto same = Client::get("/", "app.example.test");
  same.emplace_back("host", "APP.example.test");
  ASSERT_TRUE(server->receive(client.headers(3, same, true)));
  EXPECT_EQ(rec.requests.count(3), 1u);
}

TEST_F(Fixture, ConnectionSpecificFieldsResetTheStream) {
  start();
  auto h = Client::get();
  h.emplace_back("connection", "keep-alive");
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, h, true)));
  EXPECT_TRUE(rec.requests.empty());
  const auto frames = output();
  const Frame* rst = find(frames, NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->error_code(), static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  // The connection lives on.
  ASSERT_TRUE(server->receive(client.headers(3, Client::get(), true)));
  EXPECT_EQ(rec.requests.count(3), 1u);
}

TEST_F(Fixture, TeOtherThanTrailersIsRefusedAndTrailersIsKept) {
  start();
  auto bad = Client::get();
  bad.emplace_back("te", "gzip");
  auto good = Client::get();
  good.emplace_back("te", "trailers");
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, bad, true) + client.headers(3, good, true)));
  EXPECT_EQ(rec.requests.count(1), 0u);
  ASSERT_EQ(rec.requests.count(3), 1u);
  ASSERT_EQ(rec.requests[3].fields.size(), 1u);
  EXPECT_EQ(rec.requests[3].fields[0].value, "trailers");
}

TEST_F(Fixture, HeaderListPastTheLimitIsA431AndTheConnectionLivesOn) {
  Limits l;
  l.max_header_list_size = 16 * 1024;
  start(l);
  auto h = Client::get();
  for (int i = 0; i < 40; ++i) h.emplace_back("x-big-" + std::to_string(i), std::string(1000, 'v'));
  std::string bytes = Client::preface();
  // A header block bigger than one frame: HEADERS + CONTINUATION.
  const std::string block = client.block(h);
  bytes += Client::frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, 16000));
  bytes += Client::frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(16000, 16000));
  bytes += Client::frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block.substr(32000));
  ASSERT_TRUE(server->receive(bytes));
  EXPECT_TRUE(rec.requests.empty());
  auto frames = output();
  const Frame* f = find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->header(":status"), "431");
  ASSERT_TRUE(server->receive(client.headers(3, Client::get(), true)));
  EXPECT_EQ(rec.requests.count(3), 1u);
}

TEST_F(Fixture, HpackBombIsBoundedByTheHeaderListLimit) {
  Limits l;
  l.max_header_list_size = 16 * 1024;
  start(l);
  // One 2 KB field put in the dynamic table, then referenced by its one-byte index thousands of times: a few KB on
  // the wire, megabytes once decoded.
  Client bomber(4096);  // with a dynamic table
  auto first = Client::get();
  first.emplace_back("x-bomb", std::string(2000, 'b'));  // under 3/4 of the table: the deflater indexes it
  ASSERT_TRUE(server->receive(Client::preface() + bomber.headers(1, first, true)));
  EXPECT_EQ(rec.requests.count(1), 1u);
  std::string block = bomber.block(Client::get());
  block += std::string(8000, static_cast<char>(0x80 | 62));  // indexed field 62: the newest dynamic entry
  ASSERT_TRUE(server->receive(Client::frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, 3, block)));
  EXPECT_EQ(rec.requests.count(3), 0u);
  const Frame* f = find(output(), NGHTTP2_HEADERS, 3);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->header(":status"), "431");
}

TEST_F(Fixture, RapidResetEndsTheConnection) {
  start();
  std::string bytes = Client::preface() + Client::settings_ack();
  bool alive = server->receive(bytes);
  int sent = 0;
  for (std::int32_t id = 1; alive && id < 20000; id += 2, ++sent) {
    alive = server->receive(client.headers(id, Client::get(), true) + Client::rst_stream(id, NGHTTP2_CANCEL));
    std::string discard;
    (void)server->collect_output(discard);  // a client that reads everything: the flood is the resets alone
  }
  EXPECT_FALSE(alive);
  EXPECT_LT(sent, 1000);  // the burst allowance, not the 10,000 streams attempted
  std::string out;
  (void)server->collect_output(out);
  (void)client.read(std::string{});
  EXPECT_TRUE(server->finished() || !server->wants_read());
}

TEST_F(Fixture, ContinuationFloodEndsTheConnection) {
  start();
  std::string bytes = Client::preface();
  const std::string block = client.block(Client::get());
  bytes += Client::frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block);  // no END_HEADERS
  for (int i = 0; i < 100; ++i) bytes += Client::frame(NGHTTP2_CONTINUATION, 0, 1, "");
  EXPECT_FALSE(server->receive(bytes));
  const Frame* g = find(output(), NGHTTP2_GOAWAY);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(rec.requests.empty());
}

TEST_F(Fixture, EmptyDataFloodEndsTheConnectionWithEnhanceYourCalm) {
  start();
  auto post = Client::get();
  post[0].second = "POST";
  std::string bytes = Client::preface() + client.headers(1, post, false);
  for (int i = 0; i < 200; ++i) bytes += Client::data(1, "", false);
  EXPECT_FALSE(server->receive(bytes));
  const Frame* g = find(output(), NGHTTP2_GOAWAY);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->error_code(), static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(server->failure(), "empty DATA frame flood");
}

TEST_F(Fixture, SettingsAndPingFloodsFromAClientThatDoesNotReadAreCut) {
  for (const bool ping : {false, true}) {
    start();
    std::string bytes = Client::preface();
    for (int i = 0; i < 5000; ++i)
      bytes += ping ? Client::frame(NGHTTP2_PING, 0, 0, std::string(8, 'p')) : Client::frame(NGHTTP2_SETTINGS, 0, 0, "");
    EXPECT_FALSE(server->receive(bytes)) << (ping ? "PING" : "SETTINGS");
  }
}

TEST_F(Fixture, StreamsPastTheConcurrencyLimitAreRefused) {
  Limits l;
  l.max_concurrent_streams = 10;
  start(l);
  std::string bytes = Client::preface();
  for (std::int32_t id = 1; id <= 23; id += 2) bytes += client.headers(id, Client::get(), true);  // 12 streams
  ASSERT_TRUE(server->receive(bytes));
  EXPECT_EQ(rec.requests.size(), 10u);
  const auto frames = output();
  ASSERT_NE(find(frames, NGHTTP2_RST_STREAM, 21), nullptr);
  EXPECT_EQ(find(frames, NGHTTP2_RST_STREAM, 21)->error_code(), static_cast<std::uint32_t>(NGHTTP2_REFUSED_STREAM));
  ASSERT_NE(find(frames, NGHTTP2_RST_STREAM, 23), nullptr);
}

TEST_F(Fixture, AClientThatNeverOpensItsWindowCostsOneBufferPerStream) {
  Limits l;
  l.max_buffered_body = 16 * 1024;
  start(l);
  ASSERT_TRUE(server->receive(Client::preface({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}}) +
                              client.headers(1, Client::get(), true)));
  server->respond(1, 200, {}, true);
  std::size_t accepted = 0;
  while (const std::size_t room = server->body_room(1)) {
    const std::string chunk(std::min<std::size_t>(room, 4096), 'z');
    server->send_body(1, chunk);
    accepted += chunk.size();
    (void)output();
    ASSERT_LT(accepted, 1u << 20);
  }
  EXPECT_EQ(accepted, 16u * 1024);  // the bound, then the data path must stop reading its upstream
  EXPECT_EQ(find(output(), NGHTTP2_DATA, 1), nullptr);
  // The client opens its window: the buffer drains and the handler hears there is room.
  ASSERT_TRUE(server->receive(Client::window_update(1, 8192)));
  const auto frames = output();
  const Frame* d = find(frames, NGHTTP2_DATA, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->payload.size(), 8192u);
  ASSERT_EQ(rec.roomy.size(), 1u);
  EXPECT_EQ(server->body_room(1), 8192u);
}

TEST_F(Fixture, RequestBodyWindowsOpenOnlyAsTheHandlerConsumes) {
  start();
  auto post = Client::get();
  post[0].second = "POST";
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, post, false) +
                              Client::data(1, std::string(65535, 'a'), false)));
  EXPECT_EQ(rec.bodies[1].size(), 65535u);
  auto frames = output();
  EXPECT_EQ(find(frames, NGHTTP2_WINDOW_UPDATE, 1), nullptr);  // nothing consumed yet: no credit
  // More is past the stream's window: the stream ends with FLOW_CONTROL_ERROR (nghttp2 hands over that one frame
  // before it checks, so a client gains at most one frame beyond its window).
  ASSERT_TRUE(server->receive(Client::data(1, "bbbb", false)));
  const Frame* rst = find(output(), NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->error_code(), static_cast<std::uint32_t>(NGHTTP2_FLOW_CONTROL_ERROR));
  EXPECT_EQ(rec.closed[1], static_cast<std::uint32_t>(NGHTTP2_FLOW_CONTROL_ERROR));
  EXPECT_LE(rec.bodies[1].size(), 65535u + 16384u);
}

TEST_F(Fixture, ConsumedBodyBytesReturnAsWindowUpdates) {
  start();
  auto post = Client::get();
  post[0].second = "POST";
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, post, false) +
                              Client::data(1, std::string(40000, 'a'), false)));
  (void)output();
  server->consumed(1, 40000);
  const auto frames = output();
  EXPECT_NE(find(frames, NGHTTP2_WINDOW_UPDATE, 1), nullptr);
}

TEST_F(Fixture, TrailersFollowTheBody) {
  start();
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, Client::get(), true)));
  const Field head[] = {{"content-type", "application/grpc"}};
  server->respond(1, 200, head, true);
  server->send_body(1, std::string("\0\0\0\0\0", 5));
  const Field trailers[] = {{"grpc-status", "0"}, {"grpc-message", "fine"}};
  server->end_body(1, trailers);
  const auto frames = output();
  std::vector<const Frame*> headers;
  for (const auto& f : frames)
    if (f.type == NGHTTP2_HEADERS && f.stream == 1) headers.push_back(&f);
  ASSERT_EQ(headers.size(), 2u);
  const Frame* d = find(frames, NGHTTP2_DATA, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->end_stream());
  EXPECT_TRUE(headers[1]->end_stream());
  EXPECT_EQ(headers[1]->header("grpc-status"), "0");
  EXPECT_EQ(headers[1]->header("grpc-message"), "fine");
}

TEST_F(Fixture, ConnectionSpecificResponseFieldsAreDropped) {
  start();
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, Client::get(), true)));
  const Field head[] = {{"connection", "close"}, {"transfer-encoding", "chunked"}, {"x-kept", "1"}};
  server->respond(1, 204, head, false);
  const Frame* h = find(output(), NGHTTP2_HEADERS, 1);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->header("connection"), "");
  EXPECT_EQ(h->header("transfer-encoding"), "");
  EXPECT_EQ(h->header("x-kept"), "1");
}

TEST_F(Fixture, NotAPrefaceEndsTheConnection) {
  start();
  EXPECT_FALSE(server->receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(server->failure().empty());
}

TEST_F(Fixture, DrainSendsGoawayAndLetsStreamsFinish) {
  start();
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, Client::get(), true)));
  server->drain();
  auto frames = output();
  const Frame* g = find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->error_code(), static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  server->respond(1, 200, {}, false);
  EXPECT_NE(find(output(), NGHTTP2_HEADERS, 1), nullptr);
}

TEST_F(Fixture, ResetByTheClientIsReported) {
  start();
  ASSERT_TRUE(server->receive(Client::preface() + client.headers(1, Client::get(), false)));
  ASSERT_TRUE(server->receive(Client::rst_stream(1, NGHTTP2_CANCEL)));
  ASSERT_EQ(rec.closed.count(1), 1u);
  EXPECT_EQ(rec.closed[1], static_cast<std::uint32_t>(NGHTTP2_CANCEL));
  // Calls on a dead stream are ignored.
  server->respond(1, 200, {}, true);
  server->send_body(1, "x");
  server->end_body(1);
  EXPECT_EQ(server->body_room(1), 0u);
}

}  // namespace
}  // namespace postern::http2
