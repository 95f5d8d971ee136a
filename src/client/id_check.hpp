// Every id is checked before it is handed out: a reply must hold as many ids
// as were asked, each fitting the id layout (id/layout.hpp: top bit clear, a
// worker id of 1..1023, not 0) with a timestamp no further ahead of this
// machine's clock than a bounded skew, strictly increasing within the reply
// (one server issues increasing ids). A reply that fails makes its server
// count as failed for that try.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace katsubushi::client {

// Why a reply's ids cannot be handed out; empty when they can.
std::string check_ids(std::span<const std::uint64_t> ids, std::size_t asked,
                      std::int64_t now_unix_ms, std::chrono::milliseconds max_future_skew);

}  // namespace katsubushi::client
