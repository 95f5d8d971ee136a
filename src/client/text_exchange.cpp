// The memcached text protocol: "get id" for one id (go-katsubushi's key),
// "get 0 1 ... n-1" for more; each key answers "VALUE <key> <flags> <len>[ <cas>]",
// the id, and the reply ends with "END".
#include <string>

#include "client/exchange.hpp"

namespace katsubushi::client {
namespace {

std::string key_of(std::size_t i, std::size_t n) { return n == 1 ? "id" : std::to_string(i); }

// A line that is not VALUE/END: the server's word for why (SERVER_ERROR ...).
Fault refusal(const std::string& line) {
  if (line.rfind("SERVER_ERROR", 0) == 0) return {TryErrc::server_error, line};
  return {TryErrc::bad_reply, line.substr(0, 200)};
}

}  // namespace

ExchangeResult text_exchange(Connection& conn, const ServerAddress& /*server*/, std::size_t n,
                             SteadyTime deadline, std::vector<std::uint64_t>& ids) {
  std::string request = "get";
  for (std::size_t i = 0; i < n; ++i) {
    request += ' ';
    request += key_of(i, n);
  }
  request += "\r\n";
  if (auto f = conn.write_all(request, deadline)) return {f};
  std::string line;
  std::string value;
  for (std::size_t i = 0; i < n; ++i) {
    if (auto f = conn.read_line(line, deadline)) return {f};
    const std::string head = "VALUE " + key_of(i, n) + " ";
    if (line.rfind(head, 0) != 0) {
      if (line == "END") {
        return {{TryErrc::wrong_count,
                 std::to_string(i) + " ids where " + std::to_string(n) + " were asked"}};
      }
      return {refusal(line)};
    }
    // "<flags> <len>[ <cas>]"
    const auto flags_end = line.find(' ', head.size());
    if (flags_end == std::string::npos) return {{TryErrc::bad_reply, line.substr(0, 200)}};
    const auto len_end = line.find(' ', flags_end + 1);
    std::uint64_t len = 0;
    if (!parse_decimal_id(
            line.substr(flags_end + 1,
                        len_end == std::string::npos ? std::string::npos : len_end - flags_end - 1),
            len) ||
        len == 0 || len > 20) {
      return {{TryErrc::bad_reply, line.substr(0, 200)}};
    }
    if (auto f = conn.read_exact(static_cast<std::size_t>(len) + 2, value, deadline)) return {f};
    if (value.compare(value.size() - 2, 2, "\r\n") != 0) {
      return {{TryErrc::bad_reply, "value not followed by CRLF"}};
    }
    value.resize(value.size() - 2);
    std::uint64_t id = 0;
    if (!parse_decimal_id(value, id)) return {{TryErrc::bad_id, "not a number: " + value}};
    ids.push_back(id);
  }
  if (auto f = conn.read_line(line, deadline)) return {f};
  if (line != "END") {
    if (line.rfind("VALUE ", 0) == 0) {
      return {{TryErrc::wrong_count, "more ids than the " + std::to_string(n) + " asked"}};
    }
    return {refusal(line)};
  }
  return {};
}

}  // namespace katsubushi::client
