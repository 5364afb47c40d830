#pragma once
// IP addresses and CIDR ranges as policy compares them: parsed once, compared as bytes. An IPv4-mapped IPv6 address
// (::ffff:10.1.2.3, what a dual-stack socket reports) is the IPv4 address it carries.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::core {

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first 4
  bool v4 = false;
};

// A literal address ("10.1.2.3", "2001:db8::1", "[2001:db8::1]", "fe80::1%eth0" without its zone); nullopt for
// anything else (names, ports).
[[nodiscard]] std::optional<IpAddress> parse_ip(std::string_view text) noexcept;

struct IpRange {
  IpAddress base;  // with the bits past the prefix cleared
  unsigned prefix = 0;
  [[nodiscard]] bool contains(const IpAddress& a) const noexcept;
  [[nodiscard]] std::string to_string() const;
};

// "10.0.0.0/8", "2001:db8::/32" or a single address (a full-length prefix). The address part may carry host bits
// (10.1.2.3/8 means 10.0.0.0/8, as Go's net.ParseCIDR reads it).
[[nodiscard]] std::optional<IpRange> parse_ip_range(std::string_view text) noexcept;

}  // namespace postern::core
