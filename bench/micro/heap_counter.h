#pragma once
// Live heap bytes of a benchmark binary: replaces the global operator new/delete (include from exactly one source file
// of the binary). live_bytes = allocated − freed, by malloc_usable_size, so it counts what the allocator really hands
// out, rounding included.
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace postern::bench {
inline std::atomic<long long> live_bytes{0};
inline void release(void* p) noexcept {
  if (p) live_bytes.fetch_sub(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace postern::bench

void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  postern::bench::live_bytes.fetch_add(static_cast<long long>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept { postern::bench::release(p); }
void operator delete(void* p, std::size_t) noexcept { postern::bench::release(p); }
