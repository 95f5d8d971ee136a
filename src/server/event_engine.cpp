#include "server/event_engine.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>

#include "server/uring_loop.hpp"
#endif

namespace katsubushi::server {

namespace {

// Asio's io_uring_service makes each ring with this many entries (a private
// constant of Boost 1.81's io_uring_service.hpp): the probe makes the same.
constexpr unsigned kAsioRingEntries = 16384;

// katsubushi-epoll: beside this program (the build tree), else where
// `cmake --install` puts it relative to the bin directory.
std::filesystem::path epoll_build_path() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "katsubushi-epoll";
  std::filesystem::path beside = self.parent_path() / "katsubushi-epoll";
  if (std::filesystem::exists(beside, ec)) return beside;
  return (self.parent_path() / KATSUBUSHI_EPOLL_FROM_BINDIR).lexically_normal();
}

// Replaces this process with katsubushi-epoll, the same arguments after the
// first. Returns only if that fails, with why.
[[nodiscard]] std::string run_epoll_build(char** argv) {
  const std::filesystem::path path = epoll_build_path();
  // What was logged must reach stderr before the program is replaced.
  spdlog::default_logger()->flush();
  std::vector<char*> args;
  std::string program = path.string();
  args.push_back(program.data());
  for (char** a = argv + 1; *a != nullptr; ++a) args.push_back(*a);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  return "cannot run " + program + ": " + std::strerror(errno);  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace

std::string_view engine_name(EventEngine engine) {
  return engine == EventEngine::io_uring ? "io_uring" : "epoll";
}

std::optional<std::string> io_uring_refusal(unsigned loops) {
#if defined(BOOST_ASIO_HAS_IO_URING)
  // The control loop is Asio's; the serving loops are UringLoops, which
  // need more of the kernel (uring_loop.hpp).
  if (loops > 1) {
    if (auto why = UringLoop::refusal()) return "a serving loop's ring: " + *why;
  }
  loops = 1;
  std::vector<io_uring> rings(loops);
  std::optional<std::string> why;
  unsigned made = 0;
  for (; made < loops; ++made) {
    if (const int r = ::io_uring_queue_init(kAsioRingEntries, &rings[made], 0); r < 0) {
      // Short of fds is not a refusal of io_uring (epoll would need more):
      // the event loops' own check says what -threads needs.
      if (r == -EMFILE || r == -ENFILE) break;
      why = "io_uring_setup of ring " + std::to_string(made + 1) + " of " +
            std::to_string(loops) + ": " + std::strerror(-r);  // NOLINT(concurrency-mt-unsafe)
      break;
    }
  }
  if (!why && made > 0) {
    // Every operation Asio 1.81's io_uring service and sockets use.
    static constexpr int kOps[] = {IORING_OP_NOP,        IORING_OP_READV,
                                   IORING_OP_WRITEV,     IORING_OP_POLL_ADD,
                                   IORING_OP_SENDMSG,    IORING_OP_RECVMSG,
                                   IORING_OP_TIMEOUT,    IORING_OP_TIMEOUT_REMOVE,
                                   IORING_OP_ACCEPT,     IORING_OP_ASYNC_CANCEL,
                                   IORING_OP_CONNECT};
    io_uring_probe* probe = ::io_uring_get_probe_ring(rings.data());
    if (probe == nullptr) {
      why = "the kernel does not list its io_uring operations (Linux 5.6 or later does)";
    } else {
      for (const int op : kOps) {
        if (::io_uring_opcode_supported(probe, op) == 0) {
          why = "the kernel lacks io_uring operation " + std::to_string(op);
          break;
        }
      }
      ::io_uring_free_probe(probe);
    }
  }
  for (unsigned i = 0; i < made; ++i) ::io_uring_queue_exit(&rings[i]);
  return why;
#else
  (void)loops;
  return "this is the epoll build";
#endif
}

void settle_event_engine(const config::Config& config, char** argv) {
  const std::string& wanted = config.io_engine;
  if constexpr (kBuiltEngine == EventEngine::epoll) {
    if (wanted == "io_uring") {
      throw std::runtime_error(
          "-io-engine io_uring: this is katsubushi-epoll, the epoll build; run katsubushi");
    }
    spdlog::info("event loops: epoll");
    return;
  }
  if (wanted == "epoll") {
    spdlog::info("event loops: epoll (-io-engine epoll): running {}",
                 epoll_build_path().string());
    throw std::runtime_error(run_epoll_build(argv));
  }
  const auto why = io_uring_refusal(config.threads + 1);
  if (!why) {
    spdlog::info("event loops: io_uring");
    return;
  }
  if (wanted == "io_uring") throw std::runtime_error("-io-engine io_uring: " + *why);
  spdlog::warn("io_uring refused ({}): serving with epoll, running {}", *why,
               epoll_build_path().string());
  throw std::runtime_error("io_uring refused (" + *why + "), and " + run_epoll_build(argv));
}

}  // namespace katsubushi::server
