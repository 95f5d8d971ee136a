// Memcached text requests for the parser and session properties: generators
// of valid and invalid requests, how a client puts them on the wire, and the
// reply each one must get.
#pragma once

#include <rapidcheck.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "id/generator.hpp"
#include "proto/meta_command.hpp"
#include "service/stats.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proptest {

struct TextRequest {
  proto::TextCommandKind kind = proto::TextCommandKind::empty;
  std::vector<std::string> tokens;  // command name (in the case sent) and arguments
  // Separators between tokens, used in turn (empty: one space): runs of space,
  // tab, vertical tab, form feed and '\r', as go-katsubushi splits lines.
  std::vector<std::string> gaps;
  std::string lead;                 // separators before the first token
  std::string trail;                // and after the last
  std::string raw;                  // the whole line, for lines not built from tokens
  bool crlf = true;                 // "\r\n" or a bare "\n" after the line

  // What parse_text_line must make of the line.
  std::vector<std::string> keys;    // get, gets
  std::string stats_group;
  std::vector<std::string> stats_args;  // at most proto::kMaxStatsArgs
  std::optional<std::string> data;  // storage and ms: the block, without its "\r\n"
  bool noreply = false;

  // kind meta: what parse_meta_line must make of the line.
  proto::MetaCommandKind meta = proto::MetaCommandKind::noop;
  proto::MetaError meta_error = proto::MetaError::none;
  std::string meta_key;             // as sent (base64 text with b)
  std::string meta_flags;           // mg's flag letters in request order
  std::string opaque;               // O's value

  // The request line without its terminator.
  std::string line() const;
};

void showValue(const TextRequest& r, std::ostream& os);

// For assertions that print what they compare.
std::string_view kind_name(proto::TextCommandKind kind);

// Appends the request as a client sends it: line, terminator, data block.
void render(const TextRequest& r, std::string& out);
std::string render_all(const std::vector<TextRequest>& requests);

// Any well-formed request but quit.
rc::Gen<TextRequest> valid_request();
// A client's whole conversation: valid requests, sometimes ending in quit.
rc::Gen<std::vector<TextRequest>> valid_conversation();
// Lines that must get ERROR (not a command) or CLIENT_ERROR bad command line
// format (a get whose key is too long or holds a control byte; a storage
// command whose numbers do not parse), or a refused mg (its CLIENT_ERROR).
rc::Gen<TextRequest> invalid_request();

// The one-line reply an invalid request gets.
std::string error_reply(const TextRequest& r);

// The version the sessions of these properties announce.
inline constexpr std::string_view kPropVersion = "9.9.9-prop";

// Appends the reply owed to `r`, taking ids from `twin`: a generator on its
// own clock, started like the session's, so ids match one for one; `stats`
// answers as the session's own source does.
// Keys `r` asks an id for (get, gets: one per key; mg: one).
std::size_t ids_asked(const TextRequest& r);
// Whether `r` is `stats reset`, after which the get counters start again.
bool resets_counters(const TextRequest& r);
void append_expected_reply(const TextRequest& r, id::IdGenerator& twin,
                           service::StatsSource& stats, std::string& out);

}  // namespace katsubushi::proptest
