#pragma once
// An immutable list of strings with a sorted index beside it: membership in O(log n) without allocating, the order
// given kept for whoever prints the list. What policy evaluation asks of a user's groups or of a list-valued claim.
//
// A set either owns its strings or borrows them (views into storage the caller keeps alive longer than the set, as the
// directory's snapshot does with its one copy of each group id and name: 20 bytes a membership instead of 2 strings).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern::core {

class StringSet {
 public:
  StringSet() = default;
  explicit StringSet(std::vector<std::string> values);
  // Views into storage that must outlive the set (and its copies).
  [[nodiscard]] static StringSet borrowing(std::vector<std::string_view> values);

  StringSet(const StringSet& other);
  StringSet& operator=(const StringSet& other);
  StringSet(StringSet&&) noexcept = default;  // a moved vector keeps its buffer: the views stay valid
  StringSet& operator=(StringSet&&) noexcept = default;

  [[nodiscard]] bool contains(std::string_view value) const noexcept;
  // How many values were given (duplicates counted).
  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
  [[nodiscard]] bool empty() const noexcept { return values_.empty(); }
  // In the order given.
  [[nodiscard]] std::span<const std::string_view> values() const noexcept { return values_; }
  // Heap bytes this set holds (for the directory's memory figures).
  [[nodiscard]] std::size_t heap_bytes() const noexcept;

 private:
  void index();
  std::vector<std::string> owned_;         // empty when borrowing
  std::vector<std::string_view> values_;   // into owned_ or the caller's storage
  std::vector<std::uint32_t> sorted_;      // indices into values_, ordered by value
};

}  // namespace postern::core
