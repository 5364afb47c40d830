#include "core/base64.h"

#include <array>
#include <cstdint>

namespace postern::core {
namespace {

constexpr std::string_view std_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view in, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint8_t(in[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

using Table = std::array<std::int8_t, 256>;

constexpr Table make_table(std::string_view alphabet) {
  Table t{};
  for (auto& e : t) e = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i) t[std::uint8_t(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}

constexpr Table std_table = make_table(std_alphabet);
constexpr Table url_table = make_table(url_alphabet);

// Decodes `in` (no whitespace, no padding) with `table`. Rejects a length of 1 mod 4 and non-zero trailing bits.
std::optional<std::string> decode_core(std::string_view in, const Table& table) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const int v = table[std::uint8_t(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | std::uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string_view strip_padding(std::string_view in, bool& bad) {
  std::size_t pads = 0;
  while (!in.empty() && in.back() == '=') {
    in.remove_suffix(1);
    ++pads;
  }
  if (pads > 2 || (pads > 0 && (in.size() + pads) % 4 != 0)) bad = true;
  return in;
}

}  // namespace

std::string base64_encode(std::string_view bytes) { return encode(bytes, std_alphabet, true); }
std::string base64url_encode(std::string_view bytes) { return encode(bytes, url_alphabet, false); }

std::optional<std::string> base64_decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    compact += c;
  }
  bool bad = false;
  const std::string_view body = strip_padding(compact, bad);
  if (bad) return std::nullopt;
  return decode_core(body, std_table);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  bool bad = false;
  const std::string_view body = strip_padding(text, bad);
  if (bad) return std::nullopt;
  return decode_core(body, url_table);
}

}  // namespace postern::core
