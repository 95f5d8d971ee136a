#include "process/memory.hpp"

#include <malloc.h>

#include <cstdlib>

namespace katsubushi::process {

void tune_allocator() noexcept {
#if defined(__GLIBC__)
  // Called once, at start, before any other thread exists.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kOwnPagesFromBytes));  // NOLINT(concurrency-mt-unsafe)
#endif
}

void give_back_free_memory() noexcept {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void give_back_thread_heap_top() noexcept {
#if defined(__GLIBC__)
  // Below the mmap threshold, so it comes from this thread's heap; its free
  // is what makes glibc consolidate that heap and trim its top.
  void* block = std::malloc(kOwnPagesFromBytes - 4096);
  // Keep the compiler from eliding the pair.
  asm volatile("" : : "r"(block) : "memory");
  std::free(block);
#endif
}

}  // namespace katsubushi::process
