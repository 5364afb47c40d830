// The HTTP/2 client codec against the server codec, in one process: bytes are moved between them until neither has
// anything to say. What an upstream connection needs: exchanges with trailers (gRPC), request and response bodies
// under flow control in both directions, the upstream's stream limit, resets, oversized response heads, GOAWAY.
#include "http2/client_session.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "http2/server_session.h"

namespace postern::http2 {
namespace {

struct Upstream : ServerSession::Handler {  // the server side, scripted per test
  ServerSession* session = nullptr;
  std::map<std::int32_t, Request> requests;
  std::map<std::int32_t, std::string> bodies;
  std::vector<std::int32_t> ended;
  bool consume = true;  // report request body bytes consumed at once
  void on_request(std::int32_t stream, Request r) override { requests[stream] = std::move(r); }
  void on_body(std::int32_t stream, std::string_view bytes) override {
    bodies[stream] += bytes;
    if (consume) session->consumed(stream, bytes.size());
  }
  void on_body_end(std::int32_t stream) override { ended.push_back(stream); }
  void on_closed(std::int32_t, std::uint32_t) override {}
};

struct Downstream : ClientSession::Handler {  // what the proxy would do with upstream responses
  ClientSession* session = nullptr;
  std::map<std::int32_t, unsigned> status;
  std::map<std::int32_t, std::vector<Field>> heads, trailers;
  std::map<std::int32_t, std::string> bodies;
  std::vector<std::int32_t> ended;
  std::map<std::int32_t, std::uint32_t> closed;
  bool consume = true;
  void on_response(std::int32_t stream, unsigned code, std::vector<Field> fields) override {
    status[stream] = code;
    heads[stream] = std::move(fields);
  }
  void on_body(std::int32_t stream, std::string_view bytes) override {
    bodies[stream] += bytes;
    if (consume) session->consumed(stream, bytes.size());
  }
  void on_trailers(std::int32_t stream, std::vector<Field> fields) override { trailers[stream] = std::move(fields); }
  void on_end(std::int32_t stream) override { ended.push_back(stream); }
  void on_closed(std::int32_t stream, std::uint32_t code) override { closed[stream] = code; }
};

std::string value_of(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return f.value;
  return {};
}

struct Pair : ::testing::Test {
  Upstream up;
  Downstream down;
  std::unique_ptr<ServerSession> server;
  std::unique_ptr<ClientSession> client;
  void start(const Limits& server_limits = {}, const ClientLimits& client_limits = {}) {
    server = std::make_unique<ServerSession>(up, server_limits);
    client = std::make_unique<ClientSession>(down, client_limits);
    up.session = server.get();
    down.session = client.get();
  }
  // Moves bytes both ways until both sides are quiet.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      std::string c2s, s2c;
      ASSERT_TRUE(client->collect_output(c2s));
      if (!c2s.empty()) (void)server->receive(c2s);
      ASSERT_TRUE(server->collect_output(s2c));
      if (!s2c.empty()) (void)client->receive(s2c);
      if (c2s.empty() && s2c.empty()) return;
    }
    FAIL() << "the sessions never went quiet";
  }
};

TEST_F(Pair, AnExchangeWithTrailersAsGrpcUsesThem) {
  start();
  const Field fields[] = {{"content-type", "application/grpc"}, {"te", "trailers"}, {"connection", "keep-alive"}};
  const auto id = client->request("POST", "http", "grpc.example.test", "/pkg.Svc/Call", fields, true);
  ASSERT_GT(id, 0);
  client->send_body(id, std::string("\0\0\0\0\x03" "abc", 8));
  client->end_body(id);
  pump();
  ASSERT_EQ(up.requests.count(id), 1u);
  const Request& r = up.requests[id];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.authority, "grpc.example.test");
  EXPECT_EQ(r.path, "/pkg.Svc/Call");
  ASSERT_EQ(r.fields.size(), 2u);  // connection-specific `connection` was not sent; `te: trailers` was
  EXPECT_EQ(r.fields[1].value, "trailers");
  EXPECT_EQ(up.bodies[id].size(), 8u);
  ASSERT_EQ(up.ended.size(), 1u);

  const Field head[] = {{"content-type", "application/grpc"}};
  server->respond(id, 200, head, true);
  server->send_body(id, std::string("\0\0\0\0\x02" "ok", 7));
  const Field trailers[] = {{"grpc-status", "0"}, {"grpc-message", "done"}};
  server->end_body(id, trailers);
  pump();
  EXPECT_EQ(down.status[id], 200u);
  EXPECT_EQ(value_of(down.heads[id], "content-type"), "application/grpc");
  EXPECT_EQ(down.bodies[id].size(), 7u);
  EXPECT_EQ(value_of(down.trailers[id], "grpc-status"), "0");
  EXPECT_EQ(value_of(down.trailers[id], "grpc-message"), "done");
  ASSERT_EQ(down.ended.size(), 1u);
  ASSERT_EQ(down.closed.count(id), 1u);
  EXPECT_EQ(down.closed[id], 0u);
  EXPECT_EQ(client->open_streams(), 0u);
}

TEST_F(Pair, LargeBodiesFlowBothWaysUnderFlowControl) {
  start();
  const auto id = client->request("POST", "http", "a.test", "/up", {}, true);
  const std::string big(1 << 20, 'q');
  std::size_t sent = 0;
  while (sent < big.size()) {
    const std::size_t room = client->body_room(id);
    if (room == 0) {
      pump();
      continue;
    }
    const std::size_t n = std::min(room, big.size() - sent);
    client->send_body(id, std::string_view(big).substr(sent, n));
    sent += n;
  }
  client->end_body(id);
  pump();
  EXPECT_EQ(up.bodies[id].size(), big.size());
  server->respond(id, 200, {}, true);
  std::size_t out = 0;
  while (out < big.size()) {
    const std::size_t room = server->body_room(id);
    if (room == 0) {
      pump();
      continue;
    }
    const std::size_t n = std::min(room, big.size() - out);
    server->send_body(id, std::string_view(big).substr(out, n));
    out += n;
  }
  server->end_body(id);
  pump();
  EXPECT_EQ(down.bodies[id].size(), big.size());
  EXPECT_EQ(down.closed[id], 0u);
}

TEST_F(Pair, AClientThatDoesNotDeliverSlowsTheUpstreamInsteadOfBuffering) {
  start();
  down.consume = false;  // the downstream client is stuck: nothing delivered, nothing consumed
  const auto id = client->request("GET", "http", "a.test", "/big", {}, false);
  pump();
  server->respond(id, 200, {}, true);
  std::size_t offered = 0;
  for (int i = 0; i < 100; ++i) {
    const std::size_t room = server->body_room(id);
    if (room > 0) {
      server->send_body(id, std::string(room, 'x'));
      offered += room;
    }
    pump();
  }
  // What reached Postern is bounded by the stream window it advertised (64 KiB), whatever the upstream offered.
  EXPECT_LE(down.bodies[id].size(), 65535u);
  EXPECT_GT(offered, down.bodies[id].size());
  // Delivering opens the window again.
  const std::size_t before = down.bodies[id].size();
  client->consumed(id, before);
  pump();
  EXPECT_GT(down.bodies[id].size(), before);
}

TEST_F(Pair, StreamsStopAtTheUpstreamsLimit) {
  Limits l;
  l.max_concurrent_streams = 5;
  start(l);
  pump();  // the upstream's SETTINGS arrive
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 8; ++i) {
    if (!client->can_open()) break;
    ids.push_back(client->request("GET", "http", "a.test", "/", {}, false));
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(client->request("GET", "http", "a.test", "/", {}, false), -1);
  pump();
  server->respond(ids[0], 204, {}, false);
  pump();
  EXPECT_TRUE(client->can_open());  // one finished: room for another
}

TEST_F(Pair, AFullConnectionStillAcceptsAGoneAwayOneDoesNot) {
  Limits l;
  l.max_concurrent_streams = 1;
  start(l);
  pump();
  const auto id = client->request("GET", "http", "a.test", "/", {}, false);
  ASSERT_GE(id, 0);
  EXPECT_FALSE(client->can_open());  // full for now
  EXPECT_TRUE(client->accepting());  // but not to be closed: streams may open once this one ends
  pump();
  server->drain();  // GOAWAY
  pump();
  EXPECT_FALSE(client->accepting());
  EXPECT_FALSE(client->can_open());
}

TEST_F(Pair, AResetFromTheUpstreamIsReportedWithItsCode) {
  start();
  const auto id = client->request("GET", "http", "a.test", "/", {}, false);
  pump();
  server->reset(id, 7);  // REFUSED_STREAM: never processed, safe to retry elsewhere
  pump();
  ASSERT_EQ(down.closed.count(id), 1u);
  EXPECT_EQ(down.closed[id], 7u);
  EXPECT_EQ(down.status.count(id), 0u);
}

TEST_F(Pair, AResponseHeadPastTheLimitResetsTheStream) {
  ClientLimits cl;
  cl.max_header_list_size = 4096;
  start({}, cl);
  const auto id = client->request("GET", "http", "a.test", "/", {}, false);
  pump();
  std::vector<Field> head;
  for (int i = 0; i < 10; ++i) head.push_back({"x-big-" + std::to_string(i), std::string(1000, 'h')});
  server->respond(id, 200, head, false);
  pump();
  EXPECT_EQ(down.status.count(id), 0u);
  ASSERT_EQ(down.closed.count(id), 1u);
  EXPECT_NE(down.closed[id], 0u);
  // The connection itself is fine.
  const auto next = client->request("GET", "http", "a.test", "/", {}, false);
  pump();
  server->respond(next, 204, {}, false);
  pump();
  EXPECT_EQ(down.status[next], 204u);
}

TEST_F(Pair, GoawayFromTheUpstreamLetsStreamsFinishAndStopsNewOnes) {
  start();
  const auto id = client->request("GET", "http", "a.test", "/", {}, false);
  pump();
  server->drain();
  pump();
  EXPECT_FALSE(client->can_open());
  EXPECT_EQ(client->request("GET", "http", "a.test", "/", {}, false), -1);
  server->respond(id, 200, {}, false);
  pump();
  EXPECT_EQ(down.status[id], 200u);
  EXPECT_EQ(down.closed[id], 0u);
}

TEST_F(Pair, AClientResetReachesTheUpstream) {
  start();
  const auto id = client->request("POST", "http", "a.test", "/", {}, true);
  client->send_body(id, "part");
  pump();
  client->reset(id, 8);  // CANCEL: the downstream client went away
  pump();
  EXPECT_EQ(down.closed[id], 8u);
  EXPECT_EQ(server->open_streams(), 0u);
}

}  // namespace
}  // namespace postern::http2
