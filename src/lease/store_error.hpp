// What every lease store's calls throw when they do not complete: no
// connection, a timeout, an answer that is not the protocol, a refusal. The
// keeper treats them alike (the lease is held until its end, then lost); the
// message names the store's address and the step.
#pragma once

#include <stdexcept>

namespace katsubushi::lease {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace katsubushi::lease
