#include "client/resolve.hpp"

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace katsubushi::client {
namespace {

// What the lookup thread and the caller share; the last of the two to let go
// frees it (the thread outlives a caller that gave up).
struct PendingLookup {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;       // guarded by mutex
  bool abandoned = false;  // the caller gave up; guarded by mutex
  int rc = 0;              // guarded by mutex
  AddrInfoList result;     // guarded by mutex
};

addrinfo stream_hints(int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | flags;
  return hints;
}

Fault lookup_failed(int rc) {
  return {TryErrc::connect_failed, std::string("resolving: ") + ::gai_strerror(rc)};
}

}  // namespace

Fault resolve(const std::string& host, std::uint16_t port, SteadyTime deadline, AddrInfoList& out,
              LookupFunction lookup) {
  const auto service = std::to_string(port);
  // An address in numbers: answered at once, without a thread.
  const addrinfo numeric = stream_hints(AI_NUMERICHOST);
  addrinfo* found = nullptr;
  const int numeric_rc = lookup(host.c_str(), service.c_str(), &numeric, &found);
  if (numeric_rc == 0) {
    out.reset(found);
    return {};
  }
  if (numeric_rc != EAI_NONAME) return lookup_failed(numeric_rc);

  auto pending = std::make_shared<PendingLookup>();
  try {
    std::thread([pending, host, service, lookup] {
      const addrinfo hints = stream_hints(0);
      addrinfo* result = nullptr;
      const int rc = lookup(host.c_str(), service.c_str(), &hints, &result);
      AddrInfoList owned(result);
      const std::lock_guard lock(pending->mutex);
      if (pending->abandoned) return;  // `owned` frees what came too late
      pending->rc = rc;
      pending->result = std::move(owned);
      pending->done = true;
      pending->finished.notify_one();
    }).detach();
  } catch (const std::system_error& e) {
    return {TryErrc::connect_failed, std::string("resolving: no thread: ") + e.what()};
  }
  std::unique_lock lock(pending->mutex);
  if (!pending->finished.wait_until(lock, deadline, [&] { return pending->done; })) {
    pending->abandoned = true;
    return {TryErrc::timed_out, "resolving " + host};
  }
  if (pending->rc != 0) return lookup_failed(pending->rc);
  out = std::move(pending->result);
  return {};
}

}  // namespace katsubushi::client
