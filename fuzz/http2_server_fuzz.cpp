// Fuzz target: arbitrary bytes from a client on an HTTP/2 connection (http2::ServerSession). Whatever arrives, the
// codec ends (no hang), never holds more streams than it allows, and what it queues to write stays bounded by what
// it was sent. The handler answers every request with a small body and trailers, and consumes request bodies, so
// the response and flow-control paths run too. The first byte picks the mode: bit 0 set = the bytes are fed raw
// (the preface is theirs to get right), else the client preface is sent first; bit 1 set = fed a byte at a time.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http2/server_session.h"

namespace {

using postern::http2::Field;
using postern::http2::Request;
using postern::http2::ServerSession;

struct Answering : ServerSession::Handler {
  ServerSession* session = nullptr;
  void on_request(std::int32_t stream, Request r) override {
    if (r.method.empty() || r.path.empty()) std::abort();  // nghttp2 checked the pseudo-headers
    const Field head[] = {{"content-type", "text/plain"}};
    session->respond(stream, 200, head, true);
    session->send_body(stream, "hello");
    const Field trailers[] = {{"grpc-status", "0"}};
    session->end_body(stream, trailers);
  }
  void on_body(std::int32_t stream, std::string_view bytes) override { session->consumed(stream, bytes.size()); }
  void on_body_end(std::int32_t) override {}
  void on_closed(std::int32_t, std::uint32_t) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  const std::uint8_t mode = data[0];
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((mode & 1) == 0) input.insert(0, postern::http2::client_preface);
  postern::http2::Limits limits;
  limits.max_concurrent_streams = 8;
  Answering handler;
  ServerSession session(handler, limits);
  handler.session = &session;
  std::string out;
  std::size_t written = 0;
  const std::size_t step = (mode & 2) != 0 ? 1 : input.size();
  for (std::size_t at = 0; at < input.size(); at += step) {
    const bool alive = session.receive(std::string_view(input).substr(at, step));
    out.clear();
    if (!session.collect_output(out, 1 << 20)) break;
    written += out.size();
    if (session.open_streams() > limits.max_concurrent_streams) std::abort();
    if (!alive) break;
  }
  // Each answer is a few dozen bytes plus frames the client asked for (acks, window updates): bounded by its input.
  if (written > 4096 + 64 * input.size()) std::abort();
  return 0;
}
