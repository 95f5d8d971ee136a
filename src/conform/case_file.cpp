#include "conform/case_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace katsubushi::conform {

namespace {

constexpr std::array<std::string_view, 4> kProtocolNames{"text", "meta", "binary", "http"};

bool valid_case_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

// group/name, the group one of the protocol directories.
bool valid_case_id(std::string_view id) {
  const std::size_t slash = id.find('/');
  if (slash == std::string_view::npos || !valid_case_name(id.substr(slash + 1))) return false;
  const std::string_view group = id.substr(0, slash);
  return std::find(kProtocolNames.begin(), kProtocolNames.end(), group) != kProtocolNames.end();
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

class FileParser {
 public:
  FileParser(const std::string& file, const std::string& group, Protocol default_protocol,
             std::vector<Case>& out, std::vector<CaseFileError>& errors)
      : file_(file),
        group_(group),
        default_protocol_(default_protocol),
        out_(out),
        errors_(errors) {}

  void parse(std::string_view text) {
    int line_no = 0;
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      line_ = line_no;
      handle(trim_left(line));
    }
    finish_case();
  }

 private:
  void error(std::string message) { errors_.push_back({file_, line_, std::move(message)}); }

  Case* current() { return in_case_ ? &out_.back() : nullptr; }

  void finish_case() {
    Case* c = current();
    if (c != nullptr && c->steps.empty() && c->skip.empty()) {
      errors_.push_back({file_, c->line, "case " + c->name + " has no steps"});
    }
    in_case_ = false;
  }

  // The step the current case has ended with, if any.
  Step* last_step() {
    Case* c = current();
    return c == nullptr || c->steps.empty() ? nullptr : &c->steps.back();
  }

  Step* add_step(Step::Kind kind) {
    Case* c = current();
    if (c == nullptr) {
      error("a step before the first `case`");
      return nullptr;
    }
    if (const Step* last = last_step();
        last != nullptr && (last->kind == Step::Kind::close || last->kind == Step::Kind::keep)) {
      error("`close` and `keep` end a case; nothing may follow them");
      return nullptr;
    }
    Step& s = c->steps.emplace_back();
    s.kind = kind;
    s.line = line_;
    return &s;
  }

  // Data arguments are taken as written: invisible trailing blanks would
  // silently change the bytes, so they must be written as \x20 or \t.
  bool check_data_arg(std::string_view directive, std::string_view arg) {
    if (arg.empty()) {
      error("`" + std::string(directive) + "` needs an argument");
      return false;
    }
    if (arg.back() == ' ' || arg.back() == '\t') {
      error("trailing blank after `" + std::string(directive) +
            "`: write a significant one as \\x20 or \\t");
      return false;
    }
    return true;
  }

  HttpExpectation* http_target(std::string_view directive) {
    Step* last = last_step();
    if (last == nullptr || last->kind != Step::Kind::expect_http) {
      error("`" + std::string(directive) + "` belongs right after an `expect-http`");
      return nullptr;
    }
    return &last->http;
  }

  void add_http_pattern(HttpCheck::Kind kind, std::string_view directive, std::string name,
                        std::string_view arg) {
    HttpExpectation* http = http_target(directive);
    if (http == nullptr || !check_data_arg(directive, arg)) return;
    HttpCheck check;
    check.kind = kind;
    check.name = std::move(name);
    std::string why;
    if (!parse_pattern(arg, check.pattern, why)) return error(why);
    http->checks.push_back(std::move(check));
  }

  void handle(std::string_view line) {
    if (line.empty() || line.front() == '#') return;
    const std::size_t sp = line.find(' ');
    const std::string_view directive = line.substr(0, sp);
    const std::string_view arg =
        sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    std::string why;

    if (directive == "case") {
      finish_case();
      if (!valid_case_name(arg)) return error("a case name is letters, digits, - _ and .");
      Case& c = out_.emplace_back();
      c.group = group_;
      c.name = std::string(arg);
      c.file = file_;
      c.line = line_;
      c.protocol = default_protocol_;
      in_case_ = true;
      return;
    }
    if (current() == nullptr) return error("`" + std::string(directive) + "` before any `case`");

    if (directive == "protocol") {
      if (!current()->steps.empty()) return error("`protocol` comes before the steps");
      if (!parse_protocol(arg, current()->protocol)) return error("unknown protocol");
    } else if (directive == "skip") {
      if (arg.empty()) return error("`skip` needs a reason");
      current()->skip = std::string(arg);
    } else if (directive == "requires") {
      if (!valid_case_id(arg)) return error("`requires` takes a case id: group/name");
      if (arg == current()->id()) return error("a case cannot require itself");
      current()->needs.emplace_back(arg);
    } else if (directive == "send") {
      if (!check_data_arg(directive, arg)) return;
      std::string bytes;
      if (!decode_text(arg, bytes, why)) return error(why);
      if (Step* s = add_step(Step::Kind::send)) s->bytes = std::move(bytes);
    } else if (directive == "send-hex") {
      std::string bytes;
      if (arg.empty() || !decode_hex(arg, bytes, why)) {
        return error(why.empty() ? "`send-hex` needs bytes" : why);
      }
      if (Step* s = add_step(Step::Kind::send)) s->bytes = std::move(bytes);
    } else if (directive == "send-bin") {
      RequestSpec spec;
      if (!parse_request_fields(arg, spec, why)) return error(why);
      if (Step* s = add_step(Step::Kind::send)) s->bytes = encode_request(spec);
    } else if (directive == "expect") {
      if (!check_data_arg(directive, arg)) return;
      Pattern pattern;
      if (!parse_pattern(arg, pattern, why)) return error(why);
      if (Step* s = add_step(Step::Kind::expect)) s->pattern = std::move(pattern);
    } else if (directive == "expect-bin") {
      PacketExpectation packet;
      if (!parse_packet_fields(arg, packet, why)) return error(why);
      if (Step* s = add_step(Step::Kind::expect_bin)) s->packet = std::move(packet);
    } else if (directive == "expect-bin-stats") {
      StatsExpectation stats;
      if (!parse_stats_fields(arg, stats, why)) return error(why);
      if (Step* s = add_step(Step::Kind::expect_bin_stats)) s->stats = std::move(stats);
    } else if (directive == "expect-http") {
      int status = 0;
      const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), status);
      if (ec != std::errc() || end != arg.data() + arg.size() || status < 100 || status > 599) {
        return error("`expect-http` takes a status code");
      }
      if (Step* s = add_step(Step::Kind::expect_http)) s->http.status = status;
    } else if (directive == "header") {
      const std::size_t colon = arg.find(": ");
      if (colon == std::string_view::npos || colon == 0) {
        return error("`header` takes NAME: PATTERN");
      }
      add_http_pattern(HttpCheck::Kind::header, directive, std::string(arg.substr(0, colon)),
                       arg.substr(colon + 2));
    } else if (directive == "body") {
      add_http_pattern(HttpCheck::Kind::body, directive, {}, arg);
    } else if (directive == "body-json") {
      add_http_pattern(HttpCheck::Kind::body_json, directive, {}, arg);
    } else if (directive == "body-has") {
      HttpExpectation* http = http_target(directive);
      if (http == nullptr || !check_data_arg(directive, arg)) return;
      HttpCheck check;
      check.kind = HttpCheck::Kind::body_has;
      if (!decode_text(arg, check.text, why)) return error(why);
      http->checks.push_back(std::move(check));
    } else if (directive == "json-keys") {
      HttpExpectation* http = http_target(directive);
      if (http == nullptr) return;
      HttpCheck check;
      check.kind = HttpCheck::Kind::json_keys;
      std::istringstream words{std::string(arg)};
      check.keys.assign(std::istream_iterator<std::string>(words),
                        std::istream_iterator<std::string>());
      if (check.keys.empty()) return error("`json-keys` needs names");
      http->checks.push_back(std::move(check));
    } else if (directive == "close" || directive == "keep") {
      if (!arg.empty()) return error("`" + std::string(directive) + "` takes no argument");
      add_step(directive == "close" ? Step::Kind::close : Step::Kind::keep);
    } else {
      error("unknown directive `" + std::string(directive) + "`");
    }
  }

  const std::string& file_;
  const std::string& group_;
  Protocol default_protocol_;
  std::vector<Case>& out_;
  std::vector<CaseFileError>& errors_;
  bool in_case_ = false;
  int line_ = 0;
};

}  // namespace

std::string_view protocol_name(Protocol protocol) {
  return kProtocolNames[static_cast<std::size_t>(protocol)];
}

bool parse_protocol(std::string_view name, Protocol& out) {
  for (std::size_t i = 0; i < kProtocolNames.size(); ++i) {
    if (kProtocolNames[i] == name) {
      out = static_cast<Protocol>(i);
      return true;
    }
  }
  return false;
}

std::string CaseFileError::describe() const {
  return file + ":" + std::to_string(line) + ": " + message;
}

bool parse_case_file(std::string_view text, const std::string& file, const std::string& group,
                     Protocol default_protocol, std::vector<Case>& out,
                     std::vector<CaseFileError>& errors) {
  const std::size_t before = errors.size();
  FileParser(file, group, default_protocol, out, errors).parse(text);
  return errors.size() == before;
}

bool load_cases(const std::filesystem::path& dir, std::vector<Case>& out,
                std::vector<CaseFileError>& errors) {
  const std::size_t before = errors.size();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    errors.push_back({dir.string(), 0, "not a directory of cases"});
    return false;
  }
  for (const std::string_view group : kProtocolNames) {
    const std::filesystem::path sub = dir / group;
    if (!std::filesystem::is_directory(sub, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(sub, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".case") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    Protocol protocol = Protocol::text;
    parse_protocol(group, protocol);
    const std::size_t first = out.size();
    for (const auto& path : files) {
      std::ifstream in(path, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        errors.push_back({path.string(), 0, "cannot read"});
        continue;
      }
      parse_case_file(text, path.string(), std::string(group), protocol, out, errors);
    }
    std::set<std::string> names;
    for (std::size_t i = first; i < out.size(); ++i) {
      if (!names.insert(out[i].name).second) {
        errors.push_back({out[i].file, out[i].line, "a second case named " + out[i].name});
      }
    }
  }
  return errors.size() == before;
}

}  // namespace katsubushi::conform
