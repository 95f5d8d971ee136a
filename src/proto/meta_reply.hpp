// The replies to meta requests: mg's VA/HD lines, mn's MN, and the errors.
#pragma once

#include <cstdint>
#include <string_view>

#include "service/buffers.hpp"
#include "proto/meta_command.hpp"

namespace katsubushi::proto {

inline constexpr std::string_view kMetaNoopReply = "MN\r\n";

// The whole reply line for a refused meta request (`error` is not none).
// Errors are sent even with q: memcached's rule for meta commands.
std::string_view meta_error_reply(MetaError error) noexcept;

// ms, md, ma and me: "CLIENT_ERROR <cm> not supported\r\n". Ids cannot be
// stored, deleted or counted, and saying so beats a generic ERROR a client
// would take for a protocol mismatch.
std::string_view meta_unsupported_reply(MetaCommandKind kind) noexcept;

// The reply to an mg that drew `id`: "VA <len> <flags>*\r\n<id>\r\n" with v,
// "HD <flags>*\r\n" without; return flags in the order the request gave them
// (k<key> [b], O<opaque>, c<id>, f0, s<len>, t-1). Every mg is a hit, so q
// suppresses nothing.
void append_meta_get_reply(const MetaRequest& request, std::uint64_t id, service::OutputBuffer& out);

}  // namespace katsubushi::proto
