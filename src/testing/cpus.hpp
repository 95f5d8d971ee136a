// CPUs for the tests of -spin-wait. A spin helps when the work comes from
// another CPU; on a busy machine the scheduler may wake the spinning thread
// beside the one that would send it the work, where nothing can come while
// it spins. These tests put the two on different CPUs, as `taskset` would.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace katsubushi::testing {

// Two CPUs this process may run on, or none where it has one.
inline std::optional<std::pair<std::size_t, std::size_t>> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return std::nullopt;
  std::vector<std::size_t> cpus;
  for (std::size_t c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.size() < 2) return std::nullopt;
  return std::pair{cpus[0], cpus[1]};
}

inline cpu_set_t only(std::size_t cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

// Every thread `pid` has now (a daemon's, once it serves) on `cpu`.
inline bool pin_process(pid_t pid, std::size_t cpu) {
  const cpu_set_t set = only(cpu);
  std::error_code ec;
  bool any = false;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const pid_t tid = std::stoi(task.path().filename().string());
    if (::sched_setaffinity(tid, sizeof set, &set) != 0) return false;
    any = true;
  }
  return any && !ec;
}

// The calling thread on one CPU while it lives, as it was after.
class PinThisThread {
 public:
  explicit PinThisThread(std::size_t cpu) {
    CPU_ZERO(&before_);
    ok_ = ::pthread_getaffinity_np(::pthread_self(), sizeof before_, &before_) == 0;
    const cpu_set_t set = only(cpu);
    ok_ = ok_ && ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
  }
  ~PinThisThread() { ::pthread_setaffinity_np(::pthread_self(), sizeof before_, &before_); }
  PinThisThread(const PinThisThread&) = delete;
  PinThisThread& operator=(const PinThisThread&) = delete;
  PinThisThread(PinThisThread&&) = delete;
  PinThisThread& operator=(PinThisThread&&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t before_{};
  bool ok_ = false;
};

}  // namespace katsubushi::testing
