#pragma once
// Per-worker pools of the large scratch buffers a request needs only while it is being served (the body relay
// buffer, the header arena). A request leases one and gives it back when done; the pool hands out the most
// recently returned first, so with hundreds of idle keep-alive connections the few buffers in use stay in cache.
// Bounded: at most `max_kept` idle buffers are kept. Single-threaded (one pool per worker).
#include <cstddef>
#include <memory>
#include <vector>

namespace postern::proxy {

template <std::size_t Size>
class BufferPool {
 public:
  static constexpr std::size_t size = Size;
  static constexpr std::size_t max_kept = 4096;  // peak concurrency bounds it in practice

  class Lease {
   public:
    Lease() = default;
    Lease(BufferPool* pool, std::unique_ptr<std::byte[]> b) : pool_(pool), buffer_(std::move(b)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), buffer_(std::move(o.buffer_)) {}
    Lease& operator=(Lease&& o) noexcept {
      release();
      pool_ = o.pool_;
      buffer_ = std::move(o.buffer_);
      return *this;
    }
    ~Lease() { release(); }
    [[nodiscard]] std::byte* get() const noexcept { return buffer_.get(); }
    [[nodiscard]] char* chars() const noexcept { return reinterpret_cast<char*>(buffer_.get()); }
    explicit operator bool() const noexcept { return buffer_ != nullptr; }

   private:
    void release() {
      if (pool_ && buffer_) pool_->give_back(std::move(buffer_));
    }
    BufferPool* pool_ = nullptr;
    std::unique_ptr<std::byte[]> buffer_;
  };

  [[nodiscard]] Lease lease() {
    // new[] without value-initialization: zeroing 64 KiB per lease would cost more than the request.
    if (free_.empty()) return Lease(this, std::unique_ptr<std::byte[]>(new std::byte[Size]));
    auto b = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(b));
  }

 private:
  void give_back(std::unique_ptr<std::byte[]> b) {
    if (free_.size() < max_kept) free_.push_back(std::move(b));
  }
  std::vector<std::unique_ptr<std::byte[]>> free_;
};

}  // namespace postern::proxy
