#include "service/buffers.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "service/ascii.hpp"

namespace katsubushi::service {

void GrowableBytes::grow_to(std::size_t n) {
  if (n <= capacity_) return;
  void* grown = std::realloc(data_, n);
  if (grown == nullptr) throw std::bad_alloc();
  data_ = static_cast<char*>(grown);
  capacity_ = n;
}

void GrowableBytes::release() noexcept {
  std::free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

std::span<char> InputBuffer::prepare(std::size_t n) {
  unlend();
  return room(n);
}

void InputBuffer::commit(std::size_t n) noexcept { end_ = std::min(end_ + n, buf_.capacity()); }

void InputBuffer::lend(std::string_view bytes) {
  if (lent_ || begin_ != end_) {
    append(bytes);
    return;
  }
  lent_ = true;
  lent_view_ = bytes;
}

void InputBuffer::keep() {
  unlend();
  if (begin_ == end_) clear();
}

void InputBuffer::clear() noexcept {
  lent_ = false;
  lent_view_ = {};
  begin_ = end_ = 0;
  buf_.release();
}

void InputBuffer::append(std::string_view bytes) {
  // Bytes after lent ones: the lent ones move into storage first.
  unlend();
  store(bytes);
}

std::span<char> InputBuffer::room(std::size_t n) {
  compact();
  if (buf_.capacity() < end_ + n) buf_.grow_to(grown_capacity(buf_.capacity(), end_ + n));
  return {buf_.data() + end_, n};
}

void InputBuffer::store(std::string_view bytes) {
  const auto space = room(bytes.size());
  if (!bytes.empty()) std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void InputBuffer::unlend() {
  if (!lent_) return;
  const std::string_view rest = lent_view_;
  lent_ = false;
  lent_view_ = {};
  store(rest);
}

void InputBuffer::consume(std::size_t n) noexcept {
  if (lent_) {
    lent_view_.remove_prefix(std::min(n, lent_view_.size()));
    return;
  }
  begin_ = std::min(begin_ + n, end_);
}

void InputBuffer::compact() {
  if (begin_ == 0) return;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    return;
  }
  std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

void OutputBuffer::append_uint(std::uint64_t v) {
  append(DecimalDigits(v).view());
}

std::size_t grown_capacity(std::size_t have, std::size_t need) noexcept {
  if (need <= have) return have;
  const std::size_t grown = have < kStorageDoublingBytes ? 2 * have : have + have / 4;
  return std::max(need, grown);
}

void reserve_more(std::vector<char>& buf, std::size_t n) {
  // std::vector reserves exactly what it is asked for.
  buf.reserve(grown_capacity(buf.capacity(), buf.size() + n));
}

void OutputBuffer::reserve_more(std::size_t n) { service::reserve_more(buf_, n); }

char* OutputBuffer::begin_write(std::size_t n) {
  reserve_more(n);
  const std::size_t at = buf_.size();
  buf_.resize(at + n);
  return buf_.data() + at;
}

void OutputBuffer::end_write(const char* end) {
  buf_.resize(static_cast<std::size_t>(end - buf_.data()));
}

void OutputBuffer::consume(std::size_t n) noexcept {
  begin_ = std::min(begin_ + n, buf_.size());
  if (begin_ == buf_.size()) {
    begin_ = 0;
    std::vector<char>().swap(buf_);
  }
}

void OutputBuffer::drop_sent() {
  if (begin_ == 0) return;
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(begin_));
  begin_ = 0;
}

}  // namespace katsubushi::service
