// A connection's input and output bytes, shared by every protocol session.
// Both give memory back once a burst is over, so an idle connection does not
// keep the size of its largest request or reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace katsubushi::proto {

// Buffers bigger than this are released once empty.
inline constexpr std::size_t kKeepBufferBytes = std::size_t{64} * 1024;

// Bytes received and not yet consumed, with room to receive more in place.
class InputBuffer {
 public:
  // Room for `n` more bytes at the end; write into it, then commit().
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n) noexcept;
  // Copying convenience for tests and fuzzers.
  void append(std::string_view bytes);

  std::string_view pending() const noexcept {
    return std::string_view(buf_).substr(begin_, end_ - begin_);
  }
  void consume(std::size_t n) noexcept;
  void clear() noexcept { begin_ = end_ = 0; }
  std::size_t capacity_bytes() const noexcept { return buf_.size(); }

 private:
  void compact();

  std::string buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Reply bytes not yet sent.
class OutputBuffer {
 public:
  void append(std::string_view s) { buf_.append(s); }
  void append(const char* data, std::size_t n) { buf_.append(data, n); }
  void append_uint(std::uint64_t v);
  void reserve_more(std::size_t n) { buf_.reserve(buf_.size() + n); }

  std::string_view unsent() const noexcept { return std::string_view(buf_).substr(begin_); }
  std::size_t unsent_size() const noexcept { return buf_.size() - begin_; }
  void consume(std::size_t n) noexcept;
  // Drops what has been sent, so partial sends cannot grow the buffer.
  void drop_sent();
  std::size_t capacity_bytes() const noexcept { return buf_.size(); }

 private:
  std::string buf_;
  std::size_t begin_ = 0;
};

}  // namespace katsubushi::proto
