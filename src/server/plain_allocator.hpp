// An allocator that is exactly operator new and delete.
//
// Asio treats a handler without an allocator, and one with std::allocator,
// alike: its operations then come from a per-thread cache of recently freed
// blocks, whatever their size. A block freed on one thread is reused on
// another (an accept's operation, posted on as a connection's start), and a
// connection waiting for its next request would hold that block for as long
// as it waits. Operations whose handler names this allocator are made at
// their own size instead.
#pragma once

#include <cstddef>
#include <new>

namespace katsubushi::server {

template <typename T>
struct PlainAllocator {
  using value_type = T;

  PlainAllocator() noexcept = default;
  template <typename U>
  explicit PlainAllocator(const PlainAllocator<U>& /*other*/) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { ::operator delete(p); }

  template <typename U>
  bool operator==(const PlainAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

}  // namespace katsubushi::server
