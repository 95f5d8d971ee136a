// What a Client is made of, for client.cpp and for the unit tests that build
// one over fake transports and a simulated clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "client/clock.hpp"
#include "client/failover.hpp"
#include "client/prefetch_buffer.hpp"
#include "katsubushi/client.hpp"

namespace katsubushi::client {

struct Client::Impl {
  Impl(std::vector<NamedTransport> transports, const Options& opts, const Clock& c);

  Fetched fetch(std::size_t n);

  Options options;
  const Clock& clock;
  std::vector<std::string> names;
  Failover failover;
  mutable std::mutex mutex;
  PrefetchBuffer prefetch;  // guarded by mutex
  std::atomic<std::uint64_t> handed_out{0};
  std::atomic<std::uint64_t> fetched{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> discarded{0};
  std::atomic<std::uint64_t> failed_tries{0};
};

// An error message if `options` are out of range, else empty.
std::string check_options(const Options& options);

// A client over the given transports (the tests' fakes); options checked.
Client make_client(std::vector<NamedTransport> transports, const Options& options,
                   const Clock& clock);

}  // namespace katsubushi::client
