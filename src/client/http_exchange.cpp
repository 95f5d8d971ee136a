// HTTP/1.1: GET /ids?n=N (go-katsubushi's path too); a 200 whose body is
// the ids one per line. Kept alive unless the server says close.
#include <algorithm>
#include <cctype>
#include <string>

#include "client/exchange.hpp"

namespace katsubushi::client {
namespace {

// n ids of at most 20 digits and a newline each.
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{64} * 1024;
constexpr int kMaxHeaderLines = 100;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string host_header(const ServerAddress& server) {
  const auto& e = server.endpoint;
  if (e.is_unix()) return "localhost";
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}

}  // namespace

ExchangeResult http_exchange(Connection& conn, const ServerAddress& server, std::size_t n,
                             SteadyTime deadline, std::vector<std::uint64_t>& ids) {
  const std::string request = "GET /ids?n=" + std::to_string(n) +
                              " HTTP/1.1\r\nHost: " + host_header(server) +
                              "\r\nAccept: text/plain\r\n\r\n";
  if (auto f = conn.write_all(request, deadline)) return {f};
  std::string line;
  if (auto f = conn.read_line(line, deadline)) return {f};
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
    return {{TryErrc::bad_reply, line.substr(0, 200)}};
  }
  const std::string status = line.substr(9, 3);
  std::uint64_t length = 0;
  bool has_length = false;
  bool keep_alive = line.rfind("HTTP/1.1", 0) == 0;
  for (int i = 0;; ++i) {
    if (i == kMaxHeaderLines) return {{TryErrc::bad_reply, "too many header lines"}};
    if (auto f = conn.read_line(line, deadline)) return {f};
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string::npos) return {{TryErrc::bad_reply, "bad header line"}};
    const std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-length") {
      if (!parse_decimal_id(value, length) || length > kMaxBodyBytes) {
        return {{TryErrc::bad_reply, "bad Content-Length " + value}};
      }
      has_length = true;
    } else if (name == "connection") {
      const auto v = lower(value);
      if (v.find("close") != std::string::npos) keep_alive = false;
      if (v.find("keep-alive") != std::string::npos) keep_alive = true;
    }
  }
  if (!has_length) return {{TryErrc::bad_reply, "no Content-Length"}};
  std::string body;
  if (auto f = conn.read_exact(static_cast<std::size_t>(length), body, deadline)) return {f};
  if (status != "200") {
    const auto code = status == "503" ? TryErrc::server_error : TryErrc::bad_reply;
    return {{code, "HTTP " + status + ": " + body.substr(0, 200)}, keep_alive};
  }
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string_view text(body.data() + start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    std::uint64_t id = 0;
    if (!parse_decimal_id(text, id)) {
      return {{TryErrc::bad_id, "not a number: " + std::string(text.substr(0, 40))}};
    }
    ids.push_back(id);
    start = end + 1;
  }
  return {{}, keep_alive};
}

}  // namespace katsubushi::client
