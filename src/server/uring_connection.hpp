// A connection served by a UringLoop (the io_uring build's serving threads):
// the same session core, states and decisions as the Asio connection
// (connection_impl.hpp), driven by completions instead of a coroutine.
#pragma once

#include "server/connection.hpp"
#include "server/uring_loop.hpp"

namespace katsubushi::server {

// What the connections of one serving UringLoop share: one reference in
// each connection instead of three.
struct UringShell {
  ConnectionServices& services;
  ConnectionRegistry& registry;
  UringLoop& loop;
};

// Serves the connected socket `fd` (TCP when `tcp`, else a unix socket) on
// the loop's thread, from which it must be called; the connection owns the
// fd from here on, and closes it when it ends.
void start_uring_connection(int fd, bool tcp, ConnectionSlot slot, session::Protocol protocol,
                            UringShell& shell);

}  // namespace katsubushi::server
