// What a connection turned away at -max-connections is told before the
// close, in the protocol of the listener that accepted it.
#pragma once

#include <string_view>

#include "session/sniff.hpp"

namespace katsubushi::session {

// `listener` is the protocol the listener fixes: http for -http-port, where
// an HTTP client gets a real 503 with Retry-After. On the main port
// (undecided) nothing has been read yet, so the client's protocol is not
// known: it gets the memcached line, as go-katsubushi's clients expect.
std::string_view too_many_connections_reply(Protocol listener) noexcept;

}  // namespace katsubushi::session
