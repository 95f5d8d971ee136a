// HeaderGate alone: each input fed whole and byte by byte must get the same
// verdict, and the verdicts are the ones the session turns into statuses.
#include "http/header_gate.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace katsubushi::http {
namespace {

using Verdict = HeaderGate::Verdict;

constexpr std::size_t kLimit = 64;

Verdict whole(std::string_view input) {
  HeaderGate gate;
  return gate.scan(input, kLimit);
}

// Fed one more byte per call, as a trickling client sends it; the last verdict.
Verdict bytewise(std::string_view input) {
  HeaderGate gate;
  Verdict v = Verdict::need_more;
  for (std::size_t n = 1; n <= input.size(); ++n) {
    v = gate.scan(input.substr(0, n), kLimit);
    if (v != Verdict::need_more) return v;
  }
  return v;
}

struct GateCase {
  std::string input;
  Verdict verdict;
};

TEST(HeaderGateTest, VerdictsDoNotDependOnHowBytesArrive) {
  const std::vector<GateCase> cases = {
      {"", Verdict::need_more},
      {"GET /id HTTP/1.1\r\n", Verdict::need_more},
      {"GET /id HTTP/1.1\r\n\r\n", Verdict::complete},
      {"GET /id HTTP/1.1\r\nHost: k\r\n\r\n", Verdict::complete},
      {"GET /id HTTP/1.1\r\nHost: k\r\n\r\nbody and a bare \n", Verdict::complete},
      {"OPTIONS * HTTP/1.0\r\n\r\n", Verdict::complete},
      {"GET /id HTTP/1.9\r\n\r\n", Verdict::complete},  // Beast refuses the version
      {"GET /\xff HTTP/1.1\r\n\r\n", Verdict::complete},
      // The request line, byte by byte.
      // A method is any token, case-sensitive: "get" is not GET (405 later).
      {"get /id HTTP/1.1\r\n\r\n", Verdict::complete},
      {"M-SEARCH.1!#$%&'*+^_`|~ / HTTP/1.1\r\n\r\n", Verdict::bad_request_line},  // 23 bytes
      {"M-S.1!#$%&'*+^_` / HTTP/1.1\r\n\r\n", Verdict::complete},  // 16: the most
      {"GE(T /id HTTP/1.1\r\n", Verdict::bad_request_line},
      {"GE\"T /id HTTP/1.1\r\n", Verdict::bad_request_line},
      {"G:T /id HTTP/1.1\r\n", Verdict::bad_request_line},
      {"\x80", Verdict::bad_request_line},
      {"\r\n", Verdict::bad_request_line},
      {" GET", Verdict::bad_request_line},
      {"GET  /id", Verdict::bad_request_line},
      {"GET /i\td HTTP/1.1\r\n", Verdict::bad_request_line},
      {"GET /id HTTP/2.0\r\n", Verdict::bad_request_line},
      {"GET /id HTTP/1.x\r\n", Verdict::bad_request_line},
      {"GET /id HTTP/1.1 \r\n", Verdict::bad_request_line},
      {"GET /id HTTP/1.1\n", Verdict::bad_request_line},
      {"GET /id HTTP/1.1\rX", Verdict::bad_request_line},
      {"ABCDEFGHIJKLMNOPQ /", Verdict::bad_request_line},  // a 17-letter method
      {"ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", Verdict::complete},
      // Header lines end in CRLF.
      {"GET /id HTTP/1.1\r\nHost: k\n\r\n", Verdict::bare_lf},
      {"GET /id HTTP/1.1\r\n\n", Verdict::bare_lf},
      {"GET /id HTTP/1.1\r\nHost: k\r\n\n", Verdict::bare_lf},
      // The limit: the blank line must be within it.
      {"GET /id HTTP/1.1\r\nX: " + std::string(kLimit - 25, 'a') + "\r\n\r\n", Verdict::complete},
      {"GET /id HTTP/1.1\r\nX: " + std::string(kLimit - 24, 'a') + "\r\n\r\n", Verdict::too_large},
      {"GET /" + std::string(kLimit, 'a'), Verdict::too_large},
      // The first bad byte wins, even past the limit's end being near.
      {"GET /id HTTP/1.1\r\nA\nB: " + std::string(kLimit, 'a'), Verdict::bare_lf},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.input));
    EXPECT_EQ(whole(c.input), c.verdict);
    EXPECT_EQ(bytewise(c.input), c.verdict);
  }
}

TEST(HeaderGateTest, ResetStartsTheNextRequest) {
  HeaderGate gate;
  EXPECT_EQ(gate.scan("GET / HTTP/1.1\r\n\r\n", kLimit), Verdict::complete);
  EXPECT_EQ(gate.scan("GET / HTTP/1.1\r\n\r\n", kLimit), Verdict::complete);  // stays complete
  gate.reset();
  EXPECT_EQ(gate.scan("@", kLimit), Verdict::bad_request_line);
  gate.reset();
  EXPECT_EQ(gate.scan("HEAD / HTTP/1.0\r\n", kLimit), Verdict::need_more);
}

}  // namespace
}  // namespace katsubushi::http
