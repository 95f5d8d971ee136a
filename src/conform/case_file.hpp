// Conformance cases and the case file format (documented in
// src/conform/README.md): a case is a name, a protocol and a list of steps
// (send bytes, expect a reply, expect the close, check the connection is
// still usable), parsed from src/conform/cases/<protocol>/*.case.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "conform/binary_packet.hpp"
#include "conform/http_response.hpp"
#include "conform/pattern.hpp"

namespace katsubushi::conform {

enum class Protocol { text, meta, binary, http };

std::string_view protocol_name(Protocol protocol);
bool parse_protocol(std::string_view name, Protocol& out);

struct Step {
  enum class Kind {
    send,              // send, send-hex, send-bin: `bytes`
    expect,            // expect: `pattern`, matched as the reply streams in
    expect_bin,        // expect-bin: one binary reply packet
    expect_bin_stats,  // expect-bin-stats: Stat packets up to the terminator
    expect_http,       // expect-http and the checks after it: one HTTP response
    close,             // the server closes, with nothing more sent
    keep,              // the connection still answers (a probe per protocol)
  };
  Kind kind = Kind::send;
  int line = 0;
  std::string bytes;
  Pattern pattern;
  PacketExpectation packet;
  StatsExpectation stats;
  HttpExpectation http;
};

struct Case {
  std::string group;  // the directory under cases/: text, meta, binary, http
  std::string name;
  std::string file;
  int line = 0;
  Protocol protocol = Protocol::text;
  std::string skip;  // not empty: never run, reported as SKIP with this reason
  // `requires ID` lines: ids of the cases about what this case leans on
  // besides its subject (a binary `keep` sends a Noop: binary/noop). When one
  // of them fails, the target lacks that feature and this case is a SKIP.
  std::vector<std::string> needs;
  std::vector<Step> steps;
  std::string id() const { return group + "/" + name; }
};

struct CaseFileError {
  std::string file;
  int line = 0;
  std::string message;
  std::string describe() const;
};

// Parses one case file. Cases take `group` and, unless they say otherwise,
// `default_protocol`. Returns false if `errors` grew.
bool parse_case_file(std::string_view text, const std::string& file, const std::string& group,
                     Protocol default_protocol, std::vector<Case>& out,
                     std::vector<CaseFileError>& errors);

// Loads <dir>/<protocol>/*.case for each protocol directory there, files in
// name order and cases in file order. Case names are unique within a group.
bool load_cases(const std::filesystem::path& dir, std::vector<Case>& out,
                std::vector<CaseFileError>& errors);

}  // namespace katsubushi::conform
