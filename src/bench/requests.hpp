// The bytes of one load-run request in each protocol, built once before the
// run: the connections send them over and over.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::bench {

enum class Proto { text, binary, http };

// "text", "binary", "http", or nullopt.
std::optional<Proto> proto_named(std::string_view name) noexcept;

// text:   "get <prefix>0 ... <prefix>(keys-1)\r\n".
// binary: a `get` of <prefix>0 when keys is 1; otherwise a `getkq` of each
//         key and a `noop` that ends the batch (how libmemcached and Dalli
//         send a multi-get).
// http:   "GET /id" when keys is 1, "GET /ids?n=<keys>" otherwise, HTTP/1.1
//         (kept alive), with a Host field naming `host`.
std::string get_request(Proto proto, const std::string& key_prefix, unsigned keys,
                        const std::string& host);

}  // namespace katsubushi::bench
