#pragma once
// An immutable list of strings with a sorted index beside it: membership in O(log n) without allocating, the order
// given kept for whoever prints the list. What policy evaluation asks of a user's groups or of a list-valued claim.
//
// A set either owns its strings or borrows them (views into storage the caller keeps alive longer than the set, as the
// directory's snapshot does with its one copy of each group id and name: 20 bytes a membership instead of 2 strings).
// Either way it is one heap block (the views, the index when there is one, and the owned characters) behind a
// 16-byte handle: a session's groups claim or a directory user's groups cost one allocation, not one per string.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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
  // The block moves with its views: they stay valid. The moved-from set is empty.
  StringSet(StringSet&& other) noexcept
      : block_(std::move(other.block_)), size_(std::exchange(other.size_, 0)),
        block_bytes_(std::exchange(other.block_bytes_, 0)), owns_(other.owns_) {}
  StringSet& operator=(StringSet&& other) noexcept {
    block_ = std::move(other.block_);
    size_ = std::exchange(other.size_, 0);
    block_bytes_ = std::exchange(other.block_bytes_, 0);
    owns_ = other.owns_;
    return *this;
  }

  [[nodiscard]] bool contains(std::string_view value) const noexcept;
  // How many values were given (duplicates counted).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  // In the order given.
  [[nodiscard]] std::span<const std::string_view> values() const noexcept { return {views(), size_}; }
  // Heap bytes this set holds (for the memory figures).
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return block_bytes_; }

 private:
  // Short lists are scanned (a scan compares lengths first and is cheaper than the indirection): no index.
  static constexpr std::uint32_t indexed_from = 9;
  // The block: size_ views, then (from indexed_from values) size_ sorted indices, then the owned characters.
  [[nodiscard]] const std::string_view* views() const noexcept {
    return reinterpret_cast<const std::string_view*>(block_.get());
  }
  [[nodiscard]] const std::uint32_t* sorted() const noexcept {
    return size_ >= indexed_from ? reinterpret_cast<const std::uint32_t*>(block_.get() + size_ * sizeof(std::string_view))
                                 : nullptr;
  }
  // Lays out the block for `values` (copying their characters when `own`).
  void build(std::span<const std::string_view> values, bool own);

  std::unique_ptr<std::byte[]> block_;
  std::uint32_t size_ = 0;
  std::uint32_t block_bytes_ = 0;
  bool owns_ = false;  // the views point into block_
};

}  // namespace postern::core
