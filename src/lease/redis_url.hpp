// -redis URLs, in the forms raus (and so go-katsubushi) reads:
//   redis://[user:pass@]host[:port][/db][?ns=NAMESPACE]
//   rediscluster://host:port[,host:port...][?ns=NAMESPACE]
// The port defaults to 6379, the database to 0, the namespace to "raus"
// (raus's DefaultNamespace); as in raus, the first `ns` of the query wins.
// Beyond raus: several cluster seeds, [IPv6] hosts, early errors for ports
// and databases raus would only fail on when connecting, and an empty
// namespace (`?ns=`, `?ns`) refused: raus takes it as keys ":id:N", which is
// an unset variable in a template far more often than a choice, and a
// namespace shared with whatever else writes such keys.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace katsubushi::lease {

struct RedisEndpoint {
  std::string host;
  std::uint16_t port = 6379;

  std::string text() const;  // "host:port", "[::1]:port"
  friend bool operator==(const RedisEndpoint&, const RedisEndpoint&) = default;
};

struct RedisUrl {
  bool cluster = false;
  std::vector<RedisEndpoint> endpoints;  // one for redis://, the seeds for rediscluster://
  std::string user;
  std::string password;
  int db = 0;
  std::string ns = "raus";

  // The URL without its password, for logs and errors.
  std::string redacted() const;
};

class RedisUrlError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Throws RedisUrlError naming what is wrong.
RedisUrl parse_redis_url(std::string_view text);

}  // namespace katsubushi::lease
