// The signals that stop the daemon gracefully, and holding them back until
// their handlers are in.
//
// A stop signal's default action kills the process. The daemon blocks them
// as the first thing it does (before any library initializer runs, see
// katsubushi_main.cpp) and unblocks them once Asio's handlers are installed:
// a signal that arrives in between waits, pending, and is then a graceful stop.
#pragma once

#include <array>
#include <csignal>

namespace katsubushi::process {

inline constexpr std::array<int, 4> kStopSignals{SIGTERM, SIGINT, SIGHUP, SIGQUIT};

// For the calling thread, and every thread it starts from now on.
void block_stop_signals() noexcept;
void unblock_stop_signals() noexcept;

}  // namespace katsubushi::process
