#include "conform/http_response.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "conform/pattern_match.hpp"

namespace katsubushi::conform {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool icontains(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return lower(x) == lower(y); }) != haystack.end();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decodes a chunked body starting at `input`; `used` covers the trailers.
HttpFrame dechunk(std::string_view input, std::string& body, std::size_t& used,
                  std::string& error) {
  std::size_t pos = 0;
  body.clear();
  for (;;) {
    const std::size_t eol = input.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return input.size() - pos > 64 ? HttpFrame::malformed : HttpFrame::need_more;
    }
    std::string_view size_text = input.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    std::size_t size = 0;
    const auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc() || end != size_text.data() + size_text.size()) {
      error = "bad chunk size \"" + printable(size_text, 24) + "\"";
      return HttpFrame::malformed;
    }
    pos = eol + 2;
    if (size == 0) break;
    if (size > kMaxHttpBodyBytes || body.size() + size > kMaxHttpBodyBytes) {
      error = "chunked body over the runner's limit";
      return HttpFrame::malformed;
    }
    if (input.size() < pos + size + 2) return HttpFrame::need_more;
    if (input.substr(pos + size, 2) != "\r\n") {
      error = "a chunk is not followed by \\r\\n";
      return HttpFrame::malformed;
    }
    body.append(input.substr(pos, size));
    pos += size + 2;
  }
  // Trailers, then an empty line.
  for (;;) {
    const std::size_t eol = input.find("\r\n", pos);
    if (eol == std::string_view::npos) return HttpFrame::need_more;
    const bool empty = eol == pos;
    pos = eol + 2;
    if (empty) break;
  }
  used = pos;
  return HttpFrame::complete;
}

bool check_json_keys(const std::vector<std::string>& keys, std::string_view body,
                     std::string& error) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    error = "the body is not JSON: " + ec.message();
    return false;
  }
  if (!v.is_object()) {
    error = "the body is JSON but not an object";
    return false;
  }
  const boost::json::object& object = v.get_object();
  std::size_t last = 0;
  bool first = true;
  for (const std::string& key : keys) {
    const auto it = object.find(key);
    if (it == object.end()) {
      error = "the JSON object has no \"" + key + "\"";
      return false;
    }
    const auto index = static_cast<std::size_t>(it - object.begin());
    if (!first && index < last) {
      error = "\"" + key + "\" comes before the keys listed ahead of it";
      return false;
    }
    first = false;
    last = index;
  }
  return true;
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

HttpFrame frame_http_response(std::string_view input, bool at_eof, HttpResponse& out,
                              std::size_t& used, std::string& error) {
  const std::size_t head_end = input.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (input.size() > kMaxHttpHeaderBytes) {
      error = "response headers over the runner's limit";
      return HttpFrame::malformed;
    }
    constexpr std::string_view kHttp = "HTTP/";
    const std::size_t n = std::min(input.size(), kHttp.size());
    if (input.substr(0, n) != kHttp.substr(0, n)) {
      error = "not an HTTP response: \"" + printable(input, 48) + "\"";
      return HttpFrame::malformed;
    }
    return HttpFrame::need_more;
  }
  out = HttpResponse{};
  std::string_view head = input.substr(0, head_end + 2);
  std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // HTTP/1.x SSS reason
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    error = "bad status line \"" + printable(status_line, 48) + "\"";
    return HttpFrame::malformed;
  }
  out.version = std::string(status_line.substr(0, 8));
  const std::string_view code = status_line.substr(9, 3);
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), out.status);
  if (ec != std::errc() || end != code.data() + code.size() ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    error = "bad status line \"" + printable(status_line, 48) + "\"";
    return HttpFrame::malformed;
  }
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "bad header line \"" + printable(line, 48) + "\"";
      return HttpFrame::malformed;
    }
    out.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
    head.remove_prefix(eol + 2);
  }

  const std::size_t body_start = head_end + 4;
  const std::string_view rest = input.substr(body_start);
  if ((out.status >= 100 && out.status < 200) || out.status == 204 || out.status == 304) {
    used = body_start;
    return HttpFrame::complete;
  }
  const std::string* te = out.header("Transfer-Encoding");
  if (te != nullptr && icontains(*te, "chunked")) {
    std::size_t body_used = 0;
    const HttpFrame f = dechunk(rest, out.body, body_used, error);
    used = body_start + body_used;
    return f;
  }
  if (const std::string* cl = out.header("Content-Length")) {
    std::size_t length = 0;
    const auto [cend, cec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (cl->empty() || cec != std::errc() || cend != cl->data() + cl->size()) {
      error = "bad Content-Length \"" + printable(*cl, 24) + "\"";
      return HttpFrame::malformed;
    }
    if (length > kMaxHttpBodyBytes) {
      error = "Content-Length " + *cl + " over the runner's limit";
      return HttpFrame::malformed;
    }
    if (rest.size() < length) return HttpFrame::need_more;
    out.body = std::string(rest.substr(0, length));
    used = body_start + length;
    return HttpFrame::complete;
  }
  // No length: the body runs to the close.
  if (rest.size() > kMaxHttpBodyBytes) {
    error = "body over the runner's limit";
    return HttpFrame::malformed;
  }
  if (!at_eof) return HttpFrame::need_eof;
  out.body = std::string(rest);
  used = input.size();
  return HttpFrame::complete;
}

bool compact_json(std::string_view body, std::string& out, std::string& error) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    error = "the body is not JSON (" + ec.message() + "): \"" + printable(body, 60) + "\"";
    return false;
  }
  out = boost::json::serialize(v);
  return true;
}

bool check_http(const HttpExpectation& want, const HttpResponse& got,
                std::vector<std::uint64_t>& ids, std::string& error) {
  if (want.status != 0 && got.status != want.status) {
    error = "status " + std::to_string(got.status) + ", expected " + std::to_string(want.status);
    if (!got.body.empty()) error += " (body \"" + printable(got.body, 60) + "\")";
    return false;
  }
  for (const HttpCheck& check : want.checks) {
    std::string subject;
    std::string what;
    switch (check.kind) {
      case HttpCheck::Kind::header: {
        const std::string* value = got.header(check.name);
        if (value == nullptr) {
          error = "no " + check.name + " header";
          return false;
        }
        subject = *value;
        what = check.name + " \"" + printable(subject, 60) + "\"";
        break;
      }
      case HttpCheck::Kind::body:
        subject = got.body;
        what = "body \"" + printable(subject, 60) + "\"";
        break;
      case HttpCheck::Kind::body_json:
        if (!compact_json(got.body, subject, error)) return false;
        what = "JSON body " + printable(subject, 60);
        break;
      case HttpCheck::Kind::body_has:
        if (got.body.find(check.text) == std::string::npos) {
          error = "the body has no \"" + printable(check.text) + "\": \"" +
                  printable(got.body, 60) + "\"";
          return false;
        }
        continue;
      case HttpCheck::Kind::json_keys:
        if (!check_json_keys(check.keys, got.body, error)) return false;
        continue;
    }
    MatchResult m = match_pattern(check.pattern, subject, true);
    if (m.status != MatchStatus::matched) {
      error = what + ": at byte " + std::to_string(m.at) + ": " + m.detail;
      return false;
    }
    ids.insert(ids.end(), m.ids.begin(), m.ids.end());
  }
  return true;
}

}  // namespace katsubushi::conform
