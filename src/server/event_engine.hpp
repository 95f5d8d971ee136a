// The event loops' engine: Asio's io_uring service, or its epoll reactor.
//
// Which one a program has is fixed when it is compiled (Asio chooses by
// macro, for every object of the program), so the daemon is built twice:
// katsubushi on io_uring and katsubushi-epoll on epoll (CMakeLists.txt).
// katsubushi checks at start that the kernel lets it make the rings its event
// loops need; where it does not (a container's seccomp profile,
// kernel.io_uring_disabled, a kernel without the operations Asio uses), or
// with -io-engine epoll, it runs katsubushi-epoll in its place: the same
// process (exec), arguments, environment and inherited sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace katsubushi::server {

enum class EventEngine { io_uring, epoll };

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
inline constexpr EventEngine kBuiltEngine = EventEngine::io_uring;
#else
inline constexpr EventEngine kBuiltEngine = EventEngine::epoll;
#endif

// "io_uring" or "epoll": the event_loop stat, and what the log says.
std::string_view engine_name(EventEngine engine);

// File descriptors each event loop holds: a ring and an eventfd (the control
// loop's Asio ring alone); or an epoll fd, an eventfd and a timerfd.
inline constexpr std::size_t kFdsPerEventLoop = kBuiltEngine == EventEngine::io_uring ? 2 : 3;

// Why `loops` event loops (the control loop and the serving ones) cannot run
// on io_uring here, or nullopt when they can: the control loop's ring is made
// (as large as Asio's) and the kernel asked for every operation Asio uses;
// a serving loop is made and started (its ring's flags, its read buffers,
// its operations and features: Linux 6.1 or later), and all closed again.
std::optional<std::string> io_uring_refusal(unsigned loops);

// Settles the engine before anything is opened, with logging set up: returns
// when this program's engine is the one to serve with; runs katsubushi-epoll
// in this process's place when io_uring is refused (auto) or not wanted
// (epoll), and returns only if that fails. Throws std::runtime_error when
// the engine asked for cannot be had.
void settle_event_engine(const config::Config& config, char** argv);

}  // namespace katsubushi::server
