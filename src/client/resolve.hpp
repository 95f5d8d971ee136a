// Name lookup bounded by a deadline. getaddrinfo() has no timeout of its own
// (and a lookup may wait on DNS for as long as resolv.conf allows): a name is
// looked up on a thread of its own and waited for until the deadline; a
// lookup still running then is left to finish there (it frees what it
// finds), and the try counts as timed out. Numeric addresses need no lookup
// and no thread.
#pragma once

#include <netdb.h>

#include <memory>
#include <string>

#include "client/clock.hpp"
#include "client/transport.hpp"

namespace katsubushi::client {

struct AddrInfoFree {
  void operator()(addrinfo* a) const noexcept { ::freeaddrinfo(a); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

// getaddrinfo()'s signature, injected by the tests (a lookup that never ends).
using LookupFunction = int (*)(const char* host, const char* service, const addrinfo* hints,
                               addrinfo** result);

// The stream addresses of `host`:`port` (either family), found before
// `deadline`: connect_failed when the name does not resolve, timed_out when
// the lookup outlives the deadline.
Fault resolve(const std::string& host, std::uint16_t port, SteadyTime deadline, AddrInfoList& out,
              LookupFunction lookup = ::getaddrinfo);

}  // namespace katsubushi::client
