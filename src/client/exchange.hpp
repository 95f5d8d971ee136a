// One request for n ids and its reply, per protocol, over an open
// connection: the memcached text protocol (get with n keys), the binary one
// (n pipelined Gets) and HTTP (GET /ids?n=N). Each appends the ids as they
// came (unchecked) and fails on anything that is not its protocol's answer;
// a failed exchange leaves the connection out of step, so it is closed.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "client/connection.hpp"
#include "client/server_address.hpp"
#include "client/transport.hpp"

namespace katsubushi::client {

struct ExchangeResult {
  Fault fault;
  // The server asked to close after this reply (HTTP "Connection: close").
  bool keep_alive = true;
};

using Exchange = ExchangeResult (*)(Connection& conn, const ServerAddress& server, std::size_t n,
                                    SteadyTime deadline, std::vector<std::uint64_t>& ids);

ExchangeResult text_exchange(Connection& conn, const ServerAddress& server, std::size_t n,
                             SteadyTime deadline, std::vector<std::uint64_t>& ids);
ExchangeResult binary_exchange(Connection& conn, const ServerAddress& server, std::size_t n,
                               SteadyTime deadline, std::vector<std::uint64_t>& ids);
ExchangeResult http_exchange(Connection& conn, const ServerAddress& server, std::size_t n,
                             SteadyTime deadline, std::vector<std::uint64_t>& ids);

// A decimal id: 1 to 20 digits that fit 64 bits, nothing else.
inline bool parse_decimal_id(std::string_view text, std::uint64_t& id) noexcept {
  if (text.empty() || text.size() > 20) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace katsubushi::client
