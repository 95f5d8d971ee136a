// What RFC 9112 requires of a request's header that Beast's parser lets
// through: one valid Host in HTTP/1.1 (§3.2), and framing that cannot be read
// two ways (§6.1, §6.3). A request that breaks them is answered 400 and the
// connection closed: where its body ends is not known for sure, and a second
// request read from the wrong place is the request-smuggling shape.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <string_view>

namespace katsubushi::http {

// Empty when a request with `fields` and `version` (as Beast counts it: 10
// for HTTP/1.0, 11 for HTTP/1.1) may be served; otherwise why not.
std::string_view header_refusal(const boost::beast::http::fields& fields, unsigned version);

}  // namespace katsubushi::http
