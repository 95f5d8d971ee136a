// What the fuzz targets share: the trap a violated oracle springs, the
// input split into client bytes and control bytes, and transcripts compared
// without their ids.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::fuzz {

// Crashes on a violated oracle, so libFuzzer (and the replay test) stop there.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

// As FuzzedDataProvider does it: client bytes are taken from the front,
// control bytes (chunk sizes, clock moves, how much to read) from the back,
// so a seed is plain client traffic plus a few trailing bytes.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data)), back_(size) {}

  bool empty() const { return front_ >= back_; }
  std::optional<std::uint8_t> control() {
    if (empty()) return std::nullopt;
    return static_cast<std::uint8_t>(data_[--back_]);
  }
  std::string_view client_bytes(std::size_t n) {
    n = std::min(n, back_ - front_);
    const std::string_view s(data_ + front_, n);
    front_ += n;
    return s;
  }

 private:
  const char* data_;
  std::size_t front_ = 0;
  std::size_t back_;
};

// `s` with each run of digits replaced by one '#': ids differ between two
// runs of the same conversation; everything else must not.
inline std::string without_digits(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (!digit) {
      out += s[i];
    } else if (i == 0 || s[i - 1] < '0' || s[i - 1] > '9') {
      out += '#';
    }
  }
  return out;
}

}  // namespace katsubushi::fuzz
