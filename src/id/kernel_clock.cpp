#include "id/kernel_clock.hpp"

#include <sys/timex.h>

namespace katsubushi::id {

KernelClock read_kernel_clock() noexcept {
  timex t{};
  t.modes = 0;
  const int state = ::adjtimex(&t);
  KernelClock k;
  if (state == -1) return k;
  k.synced = (t.status & STA_UNSYNC) == 0 && state != TIME_ERROR;
  k.max_error_us = t.maxerror;
  k.est_error_us = t.esterror;
  return k;
}

}  // namespace katsubushi::id
