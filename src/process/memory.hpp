// How the daemon keeps its memory: set once at start, then given back to the
// system after connections close. The daemon does this itself, so it behaves
// the same with or without allocator settings in its environment.
#pragma once

#include <cstddef>

namespace katsubushi::process {

// Allocations at or above this many bytes get pages of their own, returned
// to the system when freed (a 16 MiB request line's buffer, say), instead of
// coming from the heap that many connections share.
inline constexpr std::size_t kOwnPagesFromBytes = std::size_t{64} * 1024;

// Fixes the allocator's mmap threshold at kOwnPagesFromBytes. glibc would
// otherwise raise it after each big buffer is freed, until big buffers too
// come from the shared heap and the heap's high-water mark stays in RSS.
void tune_allocator() noexcept;

// Gives free heap pages back to the system (glibc's malloc_trim). Takes a
// millisecond or so on a large heap; the server calls it at most once a
// second, and only after connections closed.
void give_back_free_memory() noexcept;

// malloc_trim leaves the free space at the top of each thread's own heap
// (glibc trims only the main heap's top there). Freeing a block of
// kOwnPagesFromBytes or more trims the freeing thread's heap top: each
// serving thread calls this after give_back_free_memory().
void give_back_thread_heap_top() noexcept;

}  // namespace katsubushi::process
