#include "lease/redis_url.hpp"

#include <charconv>
#include <optional>

namespace katsubushi::lease {

namespace {

[[noreturn]] void bad(const std::string& why) { throw RedisUrlError("-redis: " + why); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding, as url.Parse applies to user info and query values.
std::string unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) bad("bad percent escape in \"" + std::string(s) + "\"");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

RedisEndpoint endpoint(std::string_view hostport) {
  RedisEndpoint e;
  std::string_view host = hostport;
  std::optional<std::string_view> port;  // after a ':', perhaps empty
  if (hostport.starts_with('[')) {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) bad("unclosed [ in \"" + std::string(hostport) + "\"");
    host = hostport.substr(1, close - 1);
    const auto rest = hostport.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') bad("bad address \"" + std::string(hostport) + "\"");
      port = rest.substr(1);
    }
  } else if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) bad("no host in \"" + std::string(hostport) + "\"");
  e.host = std::string(host);
  if (port) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), v);
    if (port->empty() || ec != std::errc{} || end != port->data() + port->size() || v == 0 ||
        v > 65535) {
      bad("bad port \"" + std::string(*port) + "\" in \"" + std::string(hostport) + "\"");
    }
    e.port = static_cast<std::uint16_t>(v);
  }
  return e;
}

}  // namespace

std::string RedisEndpoint::text() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string RedisUrl::redacted() const {
  std::string out = cluster ? "rediscluster://" : "redis://";
  if (!user.empty() || !password.empty()) out += user + (password.empty() ? "@" : ":***@");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (i > 0) out += ',';
    out += endpoints[i].text();
  }
  if (db != 0) out += "/" + std::to_string(db);
  return out + "?ns=" + ns;
}

RedisUrl parse_redis_url(std::string_view text) {
  RedisUrl url;
  std::string_view rest;
  if (text.starts_with("redis://")) {
    rest = text.substr(8);
  } else if (text.starts_with("rediscluster://")) {
    url.cluster = true;
    rest = text.substr(15);
  } else {
    bad("want redis://[user:pass@]host[:port][/db][?ns=NS] or "
        "rediscluster://host:port,...[?ns=NS], not \"" +
        std::string(text) + "\"");
  }
  if (const auto f = rest.find('#'); f != std::string_view::npos) rest = rest.substr(0, f);
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = info.find(':');
    url.user = unescape(info.substr(0, colon), false);
    if (colon != std::string_view::npos) url.password = unescape(info.substr(colon + 1), false);
  }
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    url.endpoints.push_back(endpoint(rest.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (url.endpoints.empty()) bad("no host in \"" + std::string(text) + "\"");
  if (!url.cluster && url.endpoints.size() > 1) bad("several hosts need rediscluster://");
  if (!path.empty()) {
    if (url.cluster) bad("a database number is not supported for a Redis Cluster (as raus)");
    const auto end_of_db = path.find('/');
    const std::string_view db = path.substr(0, end_of_db);
    int v = 0;
    const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), v);
    if (ec != std::errc{} || end != db.data() + db.size() || v < 0) {
      bad("bad database \"" + std::string(db) + "\"");
    }
    url.db = v;
  }
  // As raus reads it (url.Query()["ns"][0]): the first ns wins; pairs with
  // a ';' are dropped, as Go's query parser does.
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.find(';') == std::string_view::npos && unescape(pair.substr(0, eq), true) == "ns") {
      url.ns = eq == std::string_view::npos ? std::string() : unescape(pair.substr(eq + 1), true);
      break;
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  if (url.ns.empty()) {
    bad("an empty namespace (ns=) in \"" + url.redacted() +
        "\": give one, or leave ns out for the default \"raus\"");
  }
  return url;
}

}  // namespace katsubushi::lease
