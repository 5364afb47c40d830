// Fuzz target: arbitrary bytes from an upstream on an HTTP/2 connection Postern opened (http2::ClientSession), after
// three requests were submitted (one with a body). Whatever the upstream sends, the codec ends, never reports more
// streams than it opened, and what it queues to write stays bounded. The first byte: bit 0 set = fed a byte at a
// time.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "http2/client_session.h"

namespace {

using postern::http2::ClientSession;
using postern::http2::Field;

struct Delivering : ClientSession::Handler {
  ClientSession* session = nullptr;
  std::set<std::int32_t> opened;
  void check(std::int32_t stream) const {
    if (opened.count(stream) == 0) std::abort();  // only streams we opened are reported
  }
  void on_response(std::int32_t stream, unsigned status, std::vector<Field>) override {
    check(stream);
    if (status < 200 || status > 999) std::abort();  // interim heads are skipped; nghttp2 checked the digits
  }
  void on_body(std::int32_t stream, std::string_view bytes) override {
    check(stream);
    session->consumed(stream, bytes.size());
  }
  void on_trailers(std::int32_t stream, std::vector<Field>) override { check(stream); }
  void on_end(std::int32_t stream) override { check(stream); }
  void on_closed(std::int32_t stream, std::uint32_t) override { check(stream); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  Delivering handler;
  ClientSession session(handler);
  handler.session = &session;
  const Field fields[] = {{"content-type", "application/grpc"}, {"te", "trailers"}};
  for (int i = 0; i < 3; ++i) {
    const auto id = session.request(i == 1 ? "POST" : "GET", "http", "upstream.test", "/x", fields, i == 1);
    if (id < 0) std::abort();
    handler.opened.insert(id);
    if (i == 1) {
      session.send_body(id, "hello");
      session.end_body(id);
    }
  }
  std::string out;
  if (!session.collect_output(out)) return 0;
  std::size_t written = 0;
  const std::size_t step = (mode & 1) != 0 ? 1 : input.size();
  for (std::size_t at = 0; at < input.size(); at += step) {
    const bool alive = session.receive(input.substr(at, step));
    out.clear();
    if (!session.collect_output(out, 1 << 20)) break;
    written += out.size();
    if (session.open_streams() > 3) std::abort();
    if (!alive) break;
  }
  if (written > 4096 + 64 * input.size()) std::abort();
  return 0;
}
