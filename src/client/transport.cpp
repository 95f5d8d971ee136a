#include "client/transport.hpp"

namespace katsubushi::client {
namespace {

class TryCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "katsubushi.client.try"; }
  std::string message(int v) const override {
    switch (static_cast<TryErrc>(v)) {
      case TryErrc::connect_failed:
        return "connect failed";
      case TryErrc::timed_out:
        return "timed out";
      case TryErrc::closed:
        return "connection closed by the server";
      case TryErrc::io_error:
        return "i/o error";
      case TryErrc::bad_reply:
        return "malformed reply";
      case TryErrc::server_error:
        return "server error";
      case TryErrc::bad_id:
        return "id failed the check";
      case TryErrc::wrong_count:
        return "wrong number of ids";
    }
    return "unknown";
  }
};

}  // namespace

const std::error_category& try_category() noexcept {
  static const TryCategory category;
  return category;
}

std::error_code make_error_code(TryErrc e) noexcept {
  return {static_cast<int>(e), try_category()};
}

std::string Fault::describe() const {
  if (!code) return "ok";
  return detail.empty() ? code.message() : code.message() + ": " + detail;
}

}  // namespace katsubushi::client
