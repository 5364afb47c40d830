#pragma once
// A raw HTTP/2 client for tests: writes frames byte by byte (HPACK through nghttp2's deflater), so a test can send
// what no well-behaved client would (floods, resets, oversized header lists), and reads the server's frames back
// (HPACK through nghttp2's inflater). Shared by the unit tests and the fuzz target's seed corpus writer.
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::http2::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Frame {
  std::uint8_t type = 0, flags = 0;
  std::int32_t stream = 0;
  std::string payload;
  Headers headers;  // HEADERS (and trailers), decoded
  [[nodiscard]] bool end_stream() const { return (flags & NGHTTP2_FLAG_END_STREAM) != 0; }
  [[nodiscard]] std::uint32_t error_code() const {  // RST_STREAM, GOAWAY
    const std::size_t at = type == NGHTTP2_GOAWAY ? 4 : 0;
    if (payload.size() < at + 4) return 0xffffffff;
    return (std::uint32_t{static_cast<unsigned char>(payload[at])} << 24) |
           (std::uint32_t{static_cast<unsigned char>(payload[at + 1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(payload[at + 2])} << 8) |
           std::uint32_t{static_cast<unsigned char>(payload[at + 3])};
  }
  [[nodiscard]] std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

class Client {
 public:
  // With no dynamic table (the default) each header block stands alone, so blocks built in any order (the operands
  // of `a + b` are evaluated in no fixed order) decode the same; a test of the table itself passes a size.
  explicit Client(std::size_t dynamic_table_size = 0) {
    nghttp2_hd_deflate_new(&deflater_, dynamic_table_size);
    nghttp2_hd_inflate_new(&inflater_);
  }
  ~Client() {
    nghttp2_hd_deflate_del(deflater_);
    nghttp2_hd_inflate_del(inflater_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  static std::string frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream, std::string_view payload) {
    std::string out;
    const auto n = payload.size();
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>(type);
    out += static_cast<char>(flags);
    out += static_cast<char>((stream >> 24) & 0x7f);
    out += static_cast<char>((stream >> 16) & 0xff);
    out += static_cast<char>((stream >> 8) & 0xff);
    out += static_cast<char>(stream & 0xff);
    out += payload;
    return out;
  }
  static std::string u32(std::uint32_t v) {
    std::string s;
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
    return s;
  }
  // The connection preface and a SETTINGS frame (with the given entries).
  static std::string preface(const std::vector<std::pair<std::uint16_t, std::uint32_t>>& settings = {}) {
    std::string payload;
    for (const auto& [id, value] : settings) {
      payload += static_cast<char>(id >> 8);
      payload += static_cast<char>(id & 0xff);
      payload += u32(value);
    }
    return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(NGHTTP2_SETTINGS, 0, 0, payload);
  }
  static std::string settings_ack() { return frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, {}); }
  static std::string rst_stream(std::int32_t stream, std::uint32_t code) { return frame(NGHTTP2_RST_STREAM, 0, stream, u32(code)); }
  static std::string window_update(std::int32_t stream, std::uint32_t n) { return frame(NGHTTP2_WINDOW_UPDATE, 0, stream, u32(n)); }
  // DATA frames of at most 16,384 bytes (the default SETTINGS_MAX_FRAME_SIZE) carrying `bytes`.
  static std::string data(std::int32_t stream, std::string_view bytes, bool end_stream) {
    std::string out;
    do {
      const auto piece = bytes.substr(0, 16384);
      bytes.remove_prefix(piece.size());
      out += frame(NGHTTP2_DATA, end_stream && bytes.empty() ? NGHTTP2_FLAG_END_STREAM : 0, stream, piece);
    } while (!bytes.empty());
    return out;
  }

  // An HPACK header block for `fields` (names lower case, pseudo-headers first).
  std::string block(const Headers& fields) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [n, v] : fields)
      nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(deflater_, nv.data(), nv.size()), '\0');
    const auto n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<std::uint8_t*>(out.data()), out.size(),
                                         nv.data(), nv.size());
    if (n < 0) throw std::runtime_error("deflate");
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  std::string headers(std::int32_t stream, const Headers& fields, bool end_stream, bool end_headers = true) {
    std::uint8_t flags = 0;
    if (end_stream) flags |= NGHTTP2_FLAG_END_STREAM;
    if (end_headers) flags |= NGHTTP2_FLAG_END_HEADERS;
    return frame(NGHTTP2_HEADERS, flags, stream, block(fields));
  }
  static Headers get(std::string_view path = "/", std::string_view authority = "app.example.test") {
    return {{":method", "GET"}, {":scheme", "https"}, {":authority", std::string(authority)}, {":path", std::string(path)}};
  }

  // Parses the server's bytes (appended to what came before) into whole frames.
  std::vector<Frame> read(std::string_view bytes) {
    pending_ += bytes;
    std::vector<Frame> frames;
    std::size_t at = 0;
    while (pending_.size() - at >= 9) {
      const auto* p = reinterpret_cast<const unsigned char*>(pending_.data() + at);
      const std::size_t length = (std::size_t{p[0]} << 16) | (std::size_t{p[1]} << 8) | p[2];
      if (pending_.size() - at < 9 + length) break;
      Frame f;
      f.type = p[3];
      f.flags = p[4];
      f.stream = static_cast<std::int32_t>(((p[5] & 0x7f) << 24) | (p[6] << 16) | (p[7] << 8) | p[8]);
      f.payload = pending_.substr(at + 9, length);
      at += 9 + length;
      if (f.type == NGHTTP2_HEADERS || f.type == NGHTTP2_CONTINUATION) {
        block_ += f.payload;
        if ((f.flags & NGHTTP2_FLAG_END_HEADERS) == 0) {
          if (f.type == NGHTTP2_HEADERS) held_ = f;
          continue;
        }
        if (f.type == NGHTTP2_CONTINUATION) f = held_;
        f.headers = inflate(block_);
        block_.clear();
      }
      frames.push_back(std::move(f));
    }
    pending_.erase(0, at);
    return frames;
  }

 private:
  Headers inflate(std::string_view in) {
    Headers out;
    auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t left = in.size();
    while (true) {
      nghttp2_nv nv;
      int flags = 0;
      const auto n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, p, left, 1);
      if (n < 0) throw std::runtime_error("inflate");
      p += n;
      left -= static_cast<std::size_t>(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT)
        out.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                         std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_);
        break;
      }
      if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
    }
    return out;
  }

  nghttp2_hd_deflater* deflater_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::string pending_, block_;
  Frame held_;
};

}  // namespace postern::http2::test
