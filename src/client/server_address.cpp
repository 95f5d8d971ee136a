#include "client/server_address.hpp"

#include <charconv>

namespace katsubushi::client {
namespace {

struct Scheme {
  std::string_view prefix;
  Protocol protocol;
  bool unix_socket;
  std::string_view canonical;  // how its entries are named
};

// Longest prefixes first: "binary+unix:" before "binary://".
constexpr Scheme kSchemes[] = {
    {"memcached+unix:", Protocol::memcached_text, true, "unix:"},
    {"binary+unix:", Protocol::memcached_binary, true, "binary+unix:"},
    {"http+unix:", Protocol::http, true, "http+unix:"},
    {"grpc+unix:", Protocol::grpc, true, "grpc+unix:"},
    {"unix:", Protocol::memcached_text, true, "unix:"},
    {"memcached://", Protocol::memcached_text, false, "memcached://"},
    {"binary://", Protocol::memcached_binary, false, "binary://"},
    {"http://", Protocol::http, false, "http://"},
    {"grpc://", Protocol::grpc, false, "grpc://"},
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host:port" or "[v6]:port" into `out`; an error message, or empty.
std::string parse_host_port(std::string_view s, Endpoint& out) {
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return "want [address]:port";
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return "missing :port";
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return "an IPv6 address needs brackets";
  }
  if (host.empty()) return "missing host";
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return "bad port '" + std::string(port) + "'";
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return {};
}

std::string parse_entry(std::string_view entry, ServerAddress& out) {
  const Scheme* scheme = nullptr;
  for (const auto& s : kSchemes) {
    if (entry.substr(0, s.prefix.size()) == s.prefix) {
      scheme = &s;
      break;
    }
  }
  std::string_view rest = entry;
  if (scheme == nullptr) {
    const auto sep = entry.find("://");
    if (sep != std::string_view::npos) {
      return "unknown scheme '" + std::string(entry.substr(0, sep)) +
             "' (memcached://, binary://, http://, grpc://, unix:, binary+unix:, http+unix:, "
             "grpc+unix:)";
    }
    out.protocol = Protocol::memcached_text;
  } else {
    out.protocol = scheme->protocol;
    rest = entry.substr(scheme->prefix.size());
  }
  if (scheme != nullptr && scheme->unix_socket) {
    if (rest.empty()) return "missing socket path";
    if (rest.size() > 107) return "socket path longer than 107 bytes";
    out.endpoint.unix_path = std::string(rest);
    out.name = std::string(scheme->canonical) + out.endpoint.unix_path;
    return {};
  }
  if (auto err = parse_host_port(rest, out.endpoint); !err.empty()) return err;
  const std::string_view canonical = scheme != nullptr ? scheme->canonical : "memcached://";
  const bool v6 = out.endpoint.host.find(':') != std::string::npos;
  out.name = std::string(canonical) + (v6 ? "[" : "") + out.endpoint.host + (v6 ? "]" : "") + ":" +
             std::to_string(out.endpoint.port);
  return {};
}

}  // namespace

ServerListParse parse_server_list(std::string_view list) {
  ServerListParse result;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const auto entry = trim(list.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) {
      if (end == list.size() && !result.servers.empty()) break;  // a trailing comma
      result.error = "empty entry in server list '" + std::string(list) + "'";
      result.servers.clear();
      return result;
    }
    ServerAddress address;
    if (auto err = parse_entry(entry, address); !err.empty()) {
      result.error = "server '" + std::string(entry) + "': " + err;
      result.servers.clear();
      return result;
    }
    result.servers.push_back(std::move(address));
  }
  return result;
}

}  // namespace katsubushi::client
