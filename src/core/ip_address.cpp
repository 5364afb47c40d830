#include "core/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace postern::core {

std::optional<IpAddress> parse_ip(std::string_view text) noexcept {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  // An IPv6 zone ("fe80::1%eth0", as a link-local peer is reported) names an interface, not another address.
  if (const auto zone = text.find('%'); zone != std::string_view::npos && text.find(':') != std::string_view::npos)
    text = text.substr(0, zone);
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    a.v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    a.v4 = true;
  }
  return a;
}

bool IpRange::contains(const IpAddress& a) const noexcept {
  if (a.v4 != base.v4) return false;
  const unsigned full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == base.bytes[full];
}

std::string IpRange::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(base.v4 ? AF_INET : AF_INET6, base.bytes.data(), buf, sizeof buf)) return {};
  return std::string(buf) + "/" + std::to_string(prefix);
}

std::optional<IpRange> parse_ip_range(std::string_view text) noexcept {
  const auto slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max = addr->v4 ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + unsigned(c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  IpRange r{*addr, prefix};
  for (unsigned bit = prefix; bit < 128; ++bit) r.base.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  return r;
}

}  // namespace postern::core
