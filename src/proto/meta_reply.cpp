#include "proto/meta_reply.hpp"

#include "service/ascii.hpp"

namespace katsubushi::proto {

std::string_view meta_error_reply(MetaError error) noexcept {
  switch (error) {
    case MetaError::none:
    case MetaError::bad_format:
      return "CLIENT_ERROR bad command line format\r\n";
    case MetaError::invalid_flag:
      return "CLIENT_ERROR invalid flag\r\n";
    case MetaError::duplicate_flag:
      return "CLIENT_ERROR duplicate flag\r\n";
    case MetaError::opaque_too_long:
      return "CLIENT_ERROR opaque token too long\r\n";
    case MetaError::bad_base64_key:
      return "CLIENT_ERROR error decoding key\r\n";
  }
  return "CLIENT_ERROR bad command line format\r\n";
}

std::string_view meta_unsupported_reply(MetaCommandKind kind) noexcept {
  switch (kind) {
    case MetaCommandKind::set:
      return "CLIENT_ERROR ms not supported\r\n";
    case MetaCommandKind::remove:
      return "CLIENT_ERROR md not supported\r\n";
    case MetaCommandKind::arithmetic:
      return "CLIENT_ERROR ma not supported\r\n";
    case MetaCommandKind::debug:
      return "CLIENT_ERROR me not supported\r\n";
    case MetaCommandKind::get:
    case MetaCommandKind::noop:
      break;
  }
  return "CLIENT_ERROR not supported\r\n";
}

void append_meta_get_reply(const MetaRequest& request, std::uint64_t id, service::OutputBuffer& out) {
  const service::DecimalDigits digits(id);
  const std::size_t len = digits.size();
  const std::string_view value = digits.view();

  if (request.flags.return_value) {
    out.append("VA ");
    out.append_uint(len);
  } else {
    out.append("HD");
  }
  for (const char letter : request.flag_order()) {
    switch (letter) {
      case 'k':
        out.append(" k");
        out.append(request.key);
        // memcached marks a key returned in base64 with a b right after it.
        if (request.flags.base64_key) out.append(" b");
        break;
      case 'O':
        out.append(" O");
        out.append(request.opaque);
        break;
      case 'c':
        out.append(" c");
        out.append(value);
        break;
      case 'f':
        out.append(" f0");
        break;
      case 's':
        out.append(" s");
        out.append_uint(len);
        break;
      case 't':
        out.append(" t-1");  // ids never expire
        break;
      default:
        break;  // b, q and v change the reply, not its flags
    }
  }
  out.append("\r\n");
  if (request.flags.return_value) {
    out.append(value);
    out.append("\r\n");
  }
}

}  // namespace katsubushi::proto
