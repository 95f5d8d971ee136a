// The bytes of one load-run request in each protocol, built once before the
// run: the connections send them over and over.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace katsubushi::bench {

enum class Proto { text, binary, http, grpc };

// The most ids one gRPC FetchMulti may ask for (the daemon's limit, as
// go-katsubushi's).
inline constexpr unsigned kGrpcMaxIdsPerCall = 1000;

// "text", "binary", "http", "grpc", or nullopt.
std::optional<Proto> proto_named(std::string_view name) noexcept;

// text:   "get <prefix>0 ... <prefix>(keys-1)\r\n".
// binary: a `get` of <prefix>0 when keys is 1; otherwise a `getkq` of each
//         key and a `noop` that ends the batch (how libmemcached and Dalli
//         send a multi-get).
// http:   "GET /id" when keys is 1, "GET /ids?n=<keys>" otherwise, HTTP/1.1
//         (kept alive), with a Host field naming `host`.
// grpc:   nothing: its calls are made by gRPC (GrpcLoadConnection).
std::string get_request(Proto proto, const std::string& key_prefix, unsigned keys,
                        const std::string& host);

}  // namespace katsubushi::bench
