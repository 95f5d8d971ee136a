// What the fuzz targets share: the trap a violated oracle springs, the
// input split into client bytes and control bytes, and transcripts compared
// without their ids.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::fuzz {

// Crashes on a violated oracle, so libFuzzer (and the replay test) stop there.
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The same for an oracle that says why (testing::OracleFailure): libFuzzer
// keeps the input, the replay test names it; the reason is not printed.
[[noreturn]] inline void violated(const std::string& /*why*/) { __builtin_trap(); }

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

// What every session driver checks after each process(), whatever the
// protocol: once closing(), nothing more is produced (what was read plus
// what is owed stays put), and completed_requests() never goes down.
class SessionWatch {
 public:
  // `read`: the bytes the driver has taken from output() so far.
  template <typename Core>
  void after_process(const Core& core, std::size_t read) {
    const std::size_t produced = read + core.output().size();
    if (was_closing_) check(produced == produced_at_close_);
    if (core.closing() && !was_closing_) {
      was_closing_ = true;
      produced_at_close_ = produced;
    }
    check(core.completed_requests() >= completed_);
    completed_ = core.completed_requests();
  }

 private:
  bool was_closing_ = false;
  std::size_t produced_at_close_ = 0;
  std::uint64_t completed_ = 0;
};

// The shell's path: `bytes` in a block of their own, lent to the core for one
// receive_and_process() call, then overwritten and freed, as the shell reuses
// its thread's read buffer. A view the core kept into it shows as a
// use-after-free, or as a reply that differs from the replay's.
template <typename Core>
void lend_once(Core& core, std::string_view bytes) {
  const auto block = std::make_unique<char[]>(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), block.get());
  core.receive_and_process(std::string_view(block.get(), bytes.size()));
  std::fill_n(block.get(), bytes.size(), '\xa5');
}

// One call into the core, checked: it never sleeps (only issue_waiting()
// moves the clock's sleeps()), issues at most `max_ids`, and a "not before
// T" names a millisecond the clock has not reached, with no input wanted
// while a request waits or has yielded. Returns the ids the call issued.
template <typename Rig, typename Call>
std::uint64_t checked_core_call(Rig& rig, std::uint64_t max_ids, Call&& call) {
  const std::int64_t sleeps = rig.clock.sleeps();
  const std::uint64_t ids = rig.generator.counters().ids_issued;
  call();
  check(rig.clock.sleeps() == sleeps);
  const std::uint64_t issued = rig.generator.counters().ids_issued - ids;
  check(issued <= max_ids);
  const std::int64_t at = rig.core.not_before_unix_ms();
  if (at != 0) check(at > rig.clock.now_unix_ms());
  if (at != 0 || rig.core.yielded()) check(!rig.core.wants_input());
  return issued;
}

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
