// A seam for the fleet campaign's self-tests (chaos/fleet --inject): a
// test-only library preloaded into the daemon (libkatsubushi_fault_shim.so)
// can turn one protection off, so the campaign proves it would catch the
// duplicates that protection prevents. Production loads no such library:
// the symbol is then unresolved (weak), and every check reads false.
#pragma once

extern "C" unsigned katsubushi_fault_injection(void) __attribute__((weak));  // NOLINT

namespace katsubushi::id {

enum class Fault : unsigned {
  no_fresh_wait = 1,  // a claim that finds no fence serves at once
  no_fence = 2,       // the fence read at a claim is ignored
  no_gate = 4,        // the lease's end and the reserved-until ceiling are not enforced
};

inline bool fault_injected(Fault f) noexcept {
  // NOLINTNEXTLINE(bugprone-suspicious-*): a weak symbol's address is null when absent.
  return katsubushi_fault_injection != nullptr &&
         (katsubushi_fault_injection() & static_cast<unsigned>(f)) != 0;
}

}  // namespace katsubushi::id
