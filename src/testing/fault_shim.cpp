// libkatsubushi_fault_shim.so: preloaded into the daemon by tests only
// (LD_PRELOAD), never installed.
//
//   KATSUBUSHI_FAULT=no-fresh-wait[,no-fence][,no-gate]
//       turns protections off through the daemon's weak hook
//       (id/fault_injection.hpp): the fleet campaign's self-tests prove the
//       campaign catches what each protection prevents.
//   KATSUBUSHI_ADJTIMEX_FILE=PATH
//       adjtimex() answers from PATH, re-read at every call: one line
//       "synced MAXERROR_US ESTERROR_US" or "unsynced MAXERROR_US ESTERROR_US",
//       so a test can change the kernel's view of the clock while the daemon
//       runs. Without the variable (or with an unreadable file) the real call.
#include <dlfcn.h>
#include <sys/timex.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "id/fault_injection.hpp"

namespace {

unsigned parse_faults(const char* text) {
  if (text == nullptr) return 0;
  unsigned faults = 0;
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    using katsubushi::id::Fault;
    if (name == "no-fresh-wait") faults |= static_cast<unsigned>(Fault::no_fresh_wait);
    if (name == "no-fence") faults |= static_cast<unsigned>(Fault::no_fence);
    if (name == "no-gate") faults |= static_cast<unsigned>(Fault::no_gate);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return faults;
}

}  // namespace

extern "C" unsigned katsubushi_fault_injection(void) {
  static const unsigned faults = parse_faults(std::getenv("KATSUBUSHI_FAULT"));
  return faults;
}

extern "C" int adjtimex(struct timex* t) {
  const char* path = std::getenv("KATSUBUSHI_ADJTIMEX_FILE");
  if (path != nullptr && t->modes == 0) {
    if (std::FILE* f = std::fopen(path, "re")) {
      char line[128] = {};
      const bool read = std::fgets(line, sizeof line, f) != nullptr;
      std::fclose(f);
      char* end = nullptr;
      const char* numbers = std::strchr(line, ' ');
      const long max_error = numbers ? std::strtol(numbers, &end, 10) : -1;
      const long est_error = end ? std::strtol(end, &end, 10) : -1;
      if (read && numbers != nullptr && end != nullptr && max_error >= 0 && est_error >= 0) {
        const std::string_view state(line, static_cast<std::size_t>(numbers - line));
        std::memset(t, 0, sizeof *t);
        const bool synced = state == "synced";
        t->status = synced ? 0 : STA_UNSYNC;
        t->maxerror = max_error;
        t->esterror = est_error;
        return synced ? TIME_OK : TIME_ERROR;
      }
    }
  }
  using Real = int (*)(struct timex*);
  static const auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "adjtimex"));
  return real != nullptr ? real(t) : -1;
}
