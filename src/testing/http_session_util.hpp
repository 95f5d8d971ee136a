// Helpers of the HTTP session tests: a rig per port, replies parsed, every
// chunking run (http_session_test.cpp, http_session_refusals_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "testing/http_wire.hpp"
#include "testing/session_test_util.hpp"

namespace katsubushi::testing {

using session::Protocol;

// A connection of the -http-port listener: HTTP from the first byte.
inline RigOptions http_port(service::SessionLimits limits = {}) {
  RigOptions o;
  o.limits = limits;
  o.protocol = Protocol::http;
  return o;
}

// Parses `output`, failing the test on malformed bytes.
inline std::vector<ParsedResponse> responses(std::string_view output,
                                             const std::set<std::size_t>& head_at = {}) {
  const ParsedStream s = parse_responses(output, head_at);
  EXPECT_EQ(s.error, "") << escaped(output);
  return s.responses;
}

// Runs `input` under every chunking (they must agree) and parses the replies.
inline std::vector<ParsedResponse> answers(std::string_view input, Outcome* outcome = nullptr,
                                           const std::set<std::size_t>& head_at = {}) {
  const Outcome o = run_every_chunking(input);
  if (outcome != nullptr) *outcome = o;
  return responses(o.output, head_at);
}

// `input` under every chunking is answered with one 400 "bad request: ..."
// that closes the connection, and draws no id. `outcome`: the run's, for
// more checks.
inline void expect_bad_request_then_close(std::string_view input, Outcome* outcome = nullptr) {
  Outcome o;
  const auto r = answers(input, &o);
  if (outcome != nullptr) *outcome = o;
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 400u);
  EXPECT_TRUE(r[0].body.starts_with("bad request: ")) << r[0].body;
  EXPECT_TRUE(r[0].closes());
  EXPECT_TRUE(o.closing);
  EXPECT_EQ(o.ids_issued, 0u);
}

inline constexpr std::string_view kGetId = "GET /id HTTP/1.1\r\nHost: k\r\n\r\n";

}  // namespace katsubushi::testing
