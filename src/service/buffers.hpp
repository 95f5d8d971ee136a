// A connection's input and output bytes, shared by every protocol session.
// Both give their memory back once empty, so an idle connection holds no
// buffer at all: not the size of its largest request or reply, not even a
// small one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace katsubushi::service {

// Heap bytes that grow with realloc(): a large block (glibc maps those
// itself) grows by remapping its pages, so neither the bytes held nor their
// pages are copied or faulted in again. A request line of megabytes grows
// its buffer forty times on the way; with a copy each time (std::vector),
// the page faults alone stopped the thread's other connections for 50 ms.
class GrowableBytes {
 public:
  GrowableBytes() = default;
  GrowableBytes(const GrowableBytes&) = delete;
  GrowableBytes& operator=(const GrowableBytes&) = delete;
  GrowableBytes(GrowableBytes&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}
  GrowableBytes& operator=(GrowableBytes&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~GrowableBytes() { release(); }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t capacity() const noexcept { return capacity_; }
  // At least `n` bytes, the first `capacity()` kept; throws std::bad_alloc.
  void grow_to(std::size_t n);
  void release() noexcept;

 private:
  char* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Bytes received and not yet consumed, with room to receive more in place.
class InputBuffer {
 public:
  // Room for `n` more bytes at the end; write into it, then commit().
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n) noexcept;
  // Copies `bytes` in after what is pending.
  void append(std::string_view bytes);

  // Zero-copy: `bytes`, in a buffer the caller reuses, become what is
  // pending, without a copy, until keep(). Copies instead when bytes of the
  // buffer's own are pending (they come first).
  void lend(std::string_view bytes);
  // Ends a lend(): what is left of the lent bytes is copied into the
  // buffer's own storage. Storage with nothing pending is released.
  void keep();

  std::string_view pending() const noexcept {
    if (lent_) return lent_view_;
    return {buf_.data() + begin_, end_ - begin_};
  }
  void consume(std::size_t n) noexcept;
  void clear() noexcept;
  // Heap bytes held (a string's inline bytes are not counted).
  std::size_t capacity_bytes() const noexcept { return buf_.capacity(); }

 private:
  void compact();
  // Room for `n` more bytes after what is stored.
  std::span<char> room(std::size_t n);
  // Copies `bytes` in after what is stored.
  void store(std::string_view bytes);
  // Lent bytes left move into storage; nothing is lent afterwards.
  void unlend();

  GrowableBytes buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::string_view lent_view_;
  bool lent_ = false;
};

// Below this a buffer's storage grows by doubling; above, by a quarter.
inline constexpr std::size_t kStorageDoublingBytes = 4096;

// The most storage a buffer that never held more than `held` bytes takes:
// 1.25 times that, plus what doubling may leave while small.
constexpr std::size_t storage_bound(std::size_t held) noexcept {
  return held + held / 4 + kStorageDoublingBytes;
}

// Room for `n` more bytes in `buf`: its storage grows by doubling while
// small (below kStorageDoublingBytes), then by a quarter at a time, so it
// stays within storage_bound() of the most it held (a std::string's growth
// could take 2 L).
void reserve_more(std::vector<char>& buf, std::size_t n);
// The capacity that growth rule gives storage of `have` bytes that must hold
// `need`.
std::size_t grown_capacity(std::size_t have, std::size_t need) noexcept;

// Reply bytes not yet sent.
class OutputBuffer {
 public:
  void append(std::string_view s) { append(s.data(), s.size()); }
  void append(const char* data, std::size_t n) {
    reserve_more(n);
    buf_.insert(buf_.end(), data, data + n);
  }
  void append_uint(std::uint64_t v);
  void reserve_more(std::size_t n);
  // Writing in place: room for at most `n` more bytes at the returned
  // address; end_write(end) keeps what was written before `end` and gives
  // the rest back. Nothing else touches the buffer in between.
  char* begin_write(std::size_t n);
  void end_write(const char* end);

  std::string_view unsent() const noexcept {
    return {buf_.data() + begin_, buf_.size() - begin_};
  }
  std::size_t unsent_size() const noexcept { return buf_.size() - begin_; }
  void consume(std::size_t n) noexcept;
  // Drops what has been sent, so partial sends cannot grow the buffer.
  void drop_sent();
  std::size_t capacity_bytes() const noexcept { return buf_.capacity(); }

 private:
  std::vector<char> buf_;
  std::size_t begin_ = 0;
};

}  // namespace katsubushi::service
