#include "proto/binary_session.hpp"

namespace katsubushi::proto {

BinarySession::BinarySession(const SessionServices& services, const SessionLimits& limits)
    : services_(services), limits_(limits) {}

void BinarySession::process(InputBuffer& in, OutputBuffer& /*out*/) {
  // Not served yet: close rather than answer a binary client in a protocol it
  // cannot parse.
  closing_ = true;
  in.clear();
}

}  // namespace katsubushi::proto
