#include "core/strings.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace postern::core {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_trimmed(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const auto pos = s.find(sep);
    const auto piece = trim(s.substr(0, pos));
    if (!piece.empty()) out.emplace_back(piece);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  append_json_escaped(out, s);
  return out;
}

namespace {

// True when any of the 8 bytes in `w` is below 0x20, '"' or '\\' (the bytes a JSON string may not hold as they are).
// Bytes >= 0x80 never match. Classic SWAR tests: has-less-than and has-zero-byte after XOR.
constexpr bool needs_escape(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (w - ones * 0x20) & ~w;
  const std::uint64_t quote = w ^ (ones * '"');
  const std::uint64_t backslash = w ^ (ones * '\\');
  return ((below_space | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & highs) != 0;
}

// True when a byte of `w` may be a control character: below 0x20 (HTAB included: the caller looks closer) or 0x7f.
constexpr bool may_hold_control(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (w - ones * 0x20) & ~w;
  const std::uint64_t del = w ^ (ones * 0x7f);
  return ((below_space | ((del - ones) & ~del)) & highs) != 0;
}

}  // namespace

bool has_control_characters(std::string_view s) noexcept {
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (!may_hold_control(w)) continue;
    for (int i = 0; i < 8; ++i)
      if (is_control(static_cast<unsigned char>(p[i]))) return true;
  }
  for (; n > 0; ++p, --n)
    if (is_control(static_cast<unsigned char>(*p))) return true;
  return false;
}

std::size_t json_escape_into(char* out, std::string_view s) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  char* const begin = out;
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    // Runs of clean bytes are copied eight at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (needs_escape(w)) break;
      std::memcpy(out, p, 8);
      p += 8;
      out += 8;
    }
    if (p == end) break;
    const auto tail = static_cast<std::size_t>(end - p);
    if (tail < 8 && s.size() >= 8 && out - begin == p - s.data()) {
      // A short tail after clean words: the last eight input bytes are checked and copied as one word, over the
      // output bytes that already hold their first part (nothing was escaped so far, so they are the same).
      std::uint64_t w;
      std::memcpy(&w, end - 8, 8);
      if (!needs_escape(w)) {
        std::memcpy(out + tail - 8, end - 8, 8);
        out += tail;
        break;
      }
    }
    const auto c = static_cast<unsigned char>(*p++);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *out++ = static_cast<char>(c);
      continue;
    }
    *out++ = '\\';
    switch (c) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '\n': *out++ = 'n'; break;
      case '\r': *out++ = 'r'; break;
      case '\t': *out++ = 't'; break;
      default:
        *out++ = 'u';
        *out++ = '0';
        *out++ = '0';
        *out++ = hex[c >> 4];
        *out++ = hex[c & 0xf];
    }
  }
  return static_cast<std::size_t>(out - begin);
}

void append_json_escaped(std::string& out, std::string_view s) {
  const std::size_t old = out.size();
  out.resize(old + max_json_escaped_size(s.size()));
  out.resize(old + json_escape_into(out.data() + old, s));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace postern::core
