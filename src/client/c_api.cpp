// The C ABI (katsubushi/client.h) over katsubushi::client::Client: no
// exception crosses it; errors are status codes and a message in the
// caller's buffer.
#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <system_error>

#include "katsubushi/client.h"
#include "katsubushi/client.hpp"

struct katsubushi_client {
  katsubushi::client::Client client;
};

namespace {

using katsubushi::client::Errc;

void write_error(char* err, std::size_t err_len, const std::string& message) noexcept {
  if (err == nullptr || err_len == 0) return;
  const std::size_t n = std::min(message.size(), err_len - 1);
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

int status_of(std::error_code code) noexcept {
  if (!code) return KATSUBUSHI_CLIENT_OK;
  if (code == Errc::no_server_answered) return KATSUBUSHI_CLIENT_NO_SERVER_ANSWERED;
  if (code == Errc::invalid_argument) return KATSUBUSHI_CLIENT_INVALID_ARGUMENT;
  if (code == Errc::bad_server_list) return KATSUBUSHI_CLIENT_BAD_SERVER_LIST;
  if (code == std::errc::not_enough_memory) return KATSUBUSHI_CLIENT_NO_MEMORY;
  return KATSUBUSHI_CLIENT_INTERNAL_ERROR;
}

int fail(int status, char* err, std::size_t err_len, const char* message) noexcept {
  write_error(err, err_len, message);
  return status;
}

katsubushi::client::Options to_options(const katsubushi_client_options& c) {
  using std::chrono::milliseconds;
  katsubushi::client::Options o;
  o.deadline = milliseconds(c.deadline_ms);
  o.connect_timeout = milliseconds(c.connect_timeout_ms);
  o.try_timeout = milliseconds(c.try_timeout_ms);
  o.tries_per_server = static_cast<int>(std::min<std::uint32_t>(c.tries_per_server, 1000));
  o.backoff_initial = milliseconds(c.backoff_initial_ms);
  o.backoff_max = milliseconds(c.backoff_max_ms);
  o.prefetch = c.prefetch;
  o.prefetch_max_age = milliseconds(c.prefetch_max_age_ms);
  o.max_future_skew = milliseconds(c.max_future_skew_ms);
  o.max_idle_connections = c.max_idle_connections;
  return o;
}

}  // namespace

extern "C" {

void katsubushi_client_options_init(katsubushi_client_options* options) {
  if (options == nullptr) return;
  const katsubushi::client::Options d;
  *options = katsubushi_client_options{};
  options->struct_size = sizeof(katsubushi_client_options);
  options->deadline_ms = static_cast<std::uint32_t>(d.deadline.count());
  options->connect_timeout_ms = static_cast<std::uint32_t>(d.connect_timeout.count());
  options->try_timeout_ms = static_cast<std::uint32_t>(d.try_timeout.count());
  options->tries_per_server = static_cast<std::uint32_t>(d.tries_per_server);
  options->backoff_initial_ms = static_cast<std::uint32_t>(d.backoff_initial.count());
  options->backoff_max_ms = static_cast<std::uint32_t>(d.backoff_max.count());
  options->prefetch = static_cast<std::uint32_t>(d.prefetch);
  options->prefetch_max_age_ms = static_cast<std::uint32_t>(d.prefetch_max_age.count());
  options->max_future_skew_ms = static_cast<std::uint32_t>(d.max_future_skew.count());
  options->max_idle_connections = static_cast<std::uint32_t>(d.max_idle_connections);
}

int katsubushi_client_create(const char* servers, const katsubushi_client_options* options,
                             katsubushi_client** out, char* err, size_t err_len) {
  if (servers == nullptr || out == nullptr) {
    return fail(KATSUBUSHI_CLIENT_INVALID_ARGUMENT, err, err_len,
                "servers and out must not be NULL");
  }
  *out = nullptr;
  katsubushi_client_options given;
  katsubushi_client_options_init(&given);
  if (options != nullptr) {
    // Fields past what the caller's struct has keep their defaults.
    const std::size_t size = std::min<std::size_t>(options->struct_size, sizeof given);
    if (size < sizeof(std::uint32_t)) {
      return fail(KATSUBUSHI_CLIENT_INVALID_ARGUMENT, err, err_len,
                  "options->struct_size not set: call katsubushi_client_options_init first");
    }
    std::memcpy(&given, options, size);
  }
  try {
    *out = new katsubushi_client{katsubushi::client::Client(servers, to_options(given))};
    return KATSUBUSHI_CLIENT_OK;
  } catch (const katsubushi::client::Error& e) {
    return fail(status_of(e.code()), err, err_len, e.what());
  } catch (const std::bad_alloc&) {
    return fail(KATSUBUSHI_CLIENT_NO_MEMORY, err, err_len, "out of memory");
  } catch (const std::exception& e) {
    return fail(KATSUBUSHI_CLIENT_INTERNAL_ERROR, err, err_len, e.what());
  }
}

void katsubushi_client_destroy(katsubushi_client* client) { delete client; }

int katsubushi_client_fetch(katsubushi_client* client, uint64_t* id, char* err, size_t err_len) {
  return katsubushi_client_fetch_multi(client, id, 1, err, err_len);
}

int katsubushi_client_fetch_multi(katsubushi_client* client, uint64_t* ids, size_t n, char* err,
                                  size_t err_len) {
  if (client == nullptr || ids == nullptr) {
    return fail(KATSUBUSHI_CLIENT_INVALID_ARGUMENT, err, err_len,
                "client and ids must not be NULL");
  }
  auto got = client->client.try_fetch(n);
  if (!got) {
    try {
      write_error(err, err_len, got.message());
    } catch (const std::exception&) {
      write_error(err, err_len, "out of memory");
    }
    return status_of(got.error);
  }
  std::memcpy(ids, got.ids.data(), got.ids.size() * sizeof(std::uint64_t));
  return KATSUBUSHI_CLIENT_OK;
}

const char* katsubushi_client_status_name(int status) {
  switch (status) {
    case KATSUBUSHI_CLIENT_OK:
      return "ok";
    case KATSUBUSHI_CLIENT_NO_SERVER_ANSWERED:
      return "no server answered";
    case KATSUBUSHI_CLIENT_INVALID_ARGUMENT:
      return "invalid argument";
    case KATSUBUSHI_CLIENT_BAD_SERVER_LIST:
      return "bad server list";
    case KATSUBUSHI_CLIENT_NO_MEMORY:
      return "out of memory";
    case KATSUBUSHI_CLIENT_INTERNAL_ERROR:
      return "internal error";
    default:
      return "unknown status";
  }
}

}  // extern "C"
