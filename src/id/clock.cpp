#include "id/clock.hpp"

#include <thread>

namespace katsubushi::id {

namespace {

std::int64_t wall_unix_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

SystemClock::SystemClock()
    : anchor_steady_(std::chrono::steady_clock::now()), anchor_unix_us_(wall_unix_us()) {}

std::int64_t SystemClock::now_unix_ms() {
  using namespace std::chrono;
  const auto elapsed_us =
      duration_cast<microseconds>(steady_clock::now() - anchor_steady_).count();
  return (anchor_unix_us_ + elapsed_us) / 1000;
}

void SystemClock::sleep_until_unix_ms(std::int64_t target) {
  using namespace std::chrono;
  const auto target_steady =
      anchor_steady_ + microseconds(target * 1000 - anchor_unix_us_);
  while (steady_clock::now() < target_steady) {
    std::this_thread::sleep_until(target_steady);
  }
}

std::int64_t SystemClock::drift_ms() { return wall_unix_us() / 1000 - now_unix_ms(); }

}  // namespace katsubushi::id
