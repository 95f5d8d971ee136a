#include "conform/runner.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "testing/conform_transports.hpp"

namespace katsubushi::conform {
namespace {

using testing::Answer;
using testing::Script;
using testing::ScriptedTransport;

Case parse_one(std::string_view text, Protocol protocol = Protocol::text) {
  std::vector<Case> cases;
  std::vector<CaseFileError> errors;
  EXPECT_TRUE(parse_case_file(text, "t.case", std::string(protocol_name(protocol)), protocol, cases,
                              errors))
      << (errors.empty() ? "" : errors.front().describe());
  EXPECT_EQ(cases.size(), 1u);
  return cases.empty() ? Case{} : cases.front();
}

// A tiny katsubushi: "get a" gives ids from 4097 up, "version" a VERSION
// line, "quit" the close; `repeat_ids` makes it hand out the same id again.
Script fake_katsubushi(bool repeat_ids = false) {
  auto next = std::make_shared<std::uint64_t>(4097);
  return [next, repeat_ids](std::string_view request) {
    Answer a;
    std::size_t pos = 0;
    while (pos < request.size()) {
      const std::size_t eol = request.find("\r\n", pos);
      const std::string_view line = request.substr(pos, eol - pos);
      pos = eol == std::string_view::npos ? request.size() : eol + 2;
      if (line == "get a") {
        const std::string id = std::to_string(repeat_ids ? *next : (*next)++);
        a.bytes += "VALUE a 0 " + std::to_string(id.size()) + "\r\n" + id + "\r\nEND\r\n";
      } else if (line == "version") {
        a.bytes += "VERSION 1.0\r\n";
      } else if (line == "quit") {
        a.close = true;
        break;
      } else {
        a.bytes += "ERROR\r\n";
      }
    }
    return a;
  };
}

RunOptions quick() {
  RunOptions o;
  o.timeout = Millis(20);
  return o;
}

CaseResult run(const Case& c, const Script& script, std::string* sent = nullptr) {
  const Connect connect = [&](std::string&) {
    return std::make_unique<ScriptedTransport>(script, sent);
  };
  return run_case(c, connect, quick());
}

constexpr std::string_view kGetTwice =
    "case get-twice\n"
    "send get a\\r\\nget a\\r\\n\n"
    "expect VALUE a 0 {id-len}\\r\\n{id}\\r\\nEND\\r\\n\n"
    "expect VALUE a 0 {id-len}\\r\\n{id}\\r\\nEND\\r\\n\n"
    "keep\n";

TEST(ConformRunner, PassesAgainstAConformingServer) {
  std::string sent;
  const CaseResult r = run(parse_one(kGetTwice), fake_katsubushi(), &sent);
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  // The keep probe went out after the case's own request.
  EXPECT_EQ(sent, "get a\r\nget a\r\nversion\r\n");
}

TEST(ConformRunner, IdsMustIncreaseWithinACase) {
  const CaseResult r = run(parse_one(kGetTwice), fake_katsubushi(true));
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("line 4 (expect): the id 4097 does not increase on 4097"),
            std::string::npos)
      << r.reason;
}

TEST(ConformRunner, ConsecutiveSendsAreOneWrite) {
  int writes = 0;
  const Case c = parse_one(
      "case c\nsend get a\\r\\n\nsend version\\r\\n\nexpect "
      "{any}\\r\\n{any}\\r\\n{any}\\r\\nVERSION 1.0\\r\\n\n");
  const CaseResult r = run(c, [&](std::string_view req) {
    ++writes;
    return fake_katsubushi()(req);
  });
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  EXPECT_EQ(writes, 1);
}

TEST(ConformRunner, ASilentServerFailsWithinTheTimeout) {
  const CaseResult r =
      run(parse_one("case c\nsend get a\\r\\n\nexpect END\\r\\n\n"), [](std::string_view) {
        return Answer{"EN", false};
      });
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("nothing more within 20 ms"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("\"EN\""), std::string::npos) << r.reason;
}

TEST(ConformRunner, MismatchNamesTheLineAndByte) {
  const CaseResult r =
      run(parse_one("case c\nsend foo\\r\\n\nexpect VERSION {any}\\r\\n\n"), fake_katsubushi());
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.reason,
            "line 3 (expect): at byte 0 of the reply: expected \"VERSION \", got \"ERROR\\r\\n\"");
}

TEST(ConformRunner, CloseAndKeep) {
  EXPECT_EQ(run(parse_one("case c\nsend quit\\r\\n\nclose\n"), fake_katsubushi()).verdict,
            Verdict::pass);
  const CaseResult open =
      run(parse_one("case c\nsend foo\\r\\n\nexpect ERROR\\r\\n\nclose\n"), fake_katsubushi());
  EXPECT_EQ(open.verdict, Verdict::fail);
  EXPECT_NE(open.reason.find("still open after 20 ms"), std::string::npos) << open.reason;
  const CaseResult closed = run(parse_one("case c\nsend quit\\r\\n\nkeep\n"), fake_katsubushi());
  EXPECT_EQ(closed.verdict, Verdict::fail);
  EXPECT_NE(closed.reason.find("(keep)"), std::string::npos) << closed.reason;
}

TEST(ConformRunner, BytesLeftOverAtTheEndFail) {
  const CaseResult r =
      run(parse_one("case c\nsend foo\\r\\nbar\\r\\n\nexpect ERROR\\r\\n\n"), fake_katsubushi());
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.reason, "after the last step: unexpected bytes: \"ERROR\\r\\n\"");
}

TEST(ConformRunner, BinaryCaseAndNoopProbe) {
  const Case c = parse_one(
      "case b\n"
      "send-bin op=00 key=a opaque=deadbeef\n"
      "expect-bin op=00 status=0000 opaque=deadbeef cas={cas} extras=00000000 key= value={id}\n"
      "keep\n",
      Protocol::binary);
  const Script server = [](std::string_view req) {
    PacketHeader h = decode_header(req);
    Answer a;
    h.magic = kResponseMagic;
    if (h.opcode == 0x00) {
      h.extlen = 4;
      h.keylen = 0;
      h.bodylen = 8;
      h.cas = 4097;
      a.bytes = encode_header(h) + std::string(4, '\0') + "4097";
    } else {
      h.bodylen = 0;
      a.bytes = encode_header(h);
    }
    return a;
  };
  const CaseResult r = run(c, server);
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
}

TEST(ConformRunner, HttpCase) {
  const Case c = parse_one(
      "case h\n"
      "send GET /id HTTP/1.1\\r\\n\\r\\n\n"
      "expect-http 200\n"
      "body {id}{ws}\n"
      "close\n",
      Protocol::http);
  const CaseResult r = run(c, [](std::string_view) {
    return Answer{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n4097\n", true};
  });
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
}

TEST(ConformRunner, SkipAndConnectFailure) {
  Case c = parse_one("case s\nskip not here\n");
  EXPECT_EQ(run(c, fake_katsubushi()).verdict, Verdict::skip);
  c = parse_one(kGetTwice);
  const Connect refuse = [](std::string& error) -> std::unique_ptr<Transport> {
    error = "127.0.0.1:1: connect: Connection refused";
    return nullptr;
  };
  const CaseResult r = run_case(c, refuse, quick());
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.reason, "connect: 127.0.0.1:1: connect: Connection refused");
}

}  // namespace
}  // namespace katsubushi::conform
