// Pausing a server the test started (SIGSTOP), for the tests of a member
// that is connected and never answers. kill() only queues the signal: until
// every thread of the child has taken it, a thread already running may still
// answer a request sent "after" the pause (seen under load: a get answered
// by a member the test had just paused). So this waits for the stop itself.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>

namespace katsubushi::testing {

// Sends SIGSTOP to `pid`, a child of this process, and returns once all its
// threads have stopped (waitpid reports a group stop only then), or once it
// has ended (then it is reaped here).
inline void stop_child(pid_t pid) {
  if (::kill(pid, SIGSTOP) != 0) return;
  // Without WCONTINUED, waitpid returns only for a stop or an end.
  int status = 0;
  while (::waitpid(pid, &status, WUNTRACED) == -1 && errno == EINTR) {
  }
}

}  // namespace katsubushi::testing
