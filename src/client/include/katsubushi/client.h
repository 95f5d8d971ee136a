/* The C ABI of the katsubushi client (libkatsubushi-client.so), for C and
 * for bindings (Python ctypes, Ruby FFI, Go cgo, ...). Every function is
 * thread-safe on one client, and none throws. Functions that can fail
 * return a KATSUBUSHI_CLIENT_* status and, when `err` is not NULL, write a
 * NUL-terminated message of at most err_len bytes there (cut if longer).
 *
 *   katsubushi_client* c;
 *   char err[512];
 *   if (katsubushi_client_create("127.0.0.1:11212,127.0.0.1:11213", NULL, &c,
 *                                err, sizeof err) != KATSUBUSHI_CLIENT_OK) { ... }
 *   uint64_t id;
 *   if (katsubushi_client_fetch(c, &id, err, sizeof err) == KATSUBUSHI_CLIENT_OK) { ... }
 *   katsubushi_client_destroy(c);
 */
#ifndef KATSUBUSHI_CLIENT_H
#define KATSUBUSHI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define KATSUBUSHI_CLIENT_C_API __attribute__((visibility("default")))
#else
#define KATSUBUSHI_CLIENT_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum {
  KATSUBUSHI_CLIENT_OK = 0,
  KATSUBUSHI_CLIENT_NO_SERVER_ANSWERED = 1, /* no server gave an id within the deadline */
  KATSUBUSHI_CLIENT_INVALID_ARGUMENT = 2,   /* NULL where a pointer is needed, n out of range, bad option */
  KATSUBUSHI_CLIENT_BAD_SERVER_LIST = 3,
  KATSUBUSHI_CLIENT_NO_MEMORY = 4,
  KATSUBUSHI_CLIENT_INTERNAL_ERROR = 5
};

/* Options; fill with katsubushi_client_options_init() first, then change
 * what you need. Durations in milliseconds. `struct_size` lets a newer
 * library take a struct from an older caller. */
typedef struct katsubushi_client_options {
  uint32_t struct_size;
  uint32_t deadline_ms;          /* per fetch call (5000) */
  uint32_t connect_timeout_ms;   /* (1000) */
  uint32_t try_timeout_ms;       /* one request to one server (1000) */
  uint32_t tries_per_server;     /* (2) */
  uint32_t backoff_initial_ms;   /* (50) */
  uint32_t backoff_max_ms;       /* (5000) */
  uint32_t prefetch;             /* ids fetched ahead, 0 = off (0) */
  uint32_t prefetch_max_age_ms;  /* (1000) */
  uint32_t max_future_skew_ms;   /* (5000) */
  uint32_t max_idle_connections; /* per server (4) */
} katsubushi_client_options;

typedef struct katsubushi_client katsubushi_client;

KATSUBUSHI_CLIENT_C_API void katsubushi_client_options_init(katsubushi_client_options* options);

/* `servers` as for the C++ Client: "host:port,binary://host:port,http://host:port,unix:/path"
 * (grpc:// after katsubushi_client_enable_grpc(), katsubushi/client_grpc.h).
 * `options` may be NULL (the defaults). */
KATSUBUSHI_CLIENT_C_API int katsubushi_client_create(const char* servers,
                                                     const katsubushi_client_options* options,
                                                     katsubushi_client** out, char* err,
                                                     size_t err_len);
KATSUBUSHI_CLIENT_C_API void katsubushi_client_destroy(katsubushi_client* client);

KATSUBUSHI_CLIENT_C_API int katsubushi_client_fetch(katsubushi_client* client, uint64_t* id,
                                                    char* err, size_t err_len);
/* Writes n ids (1..100000) to ids[0..n-1]; nothing is written on failure. */
KATSUBUSHI_CLIENT_C_API int katsubushi_client_fetch_multi(katsubushi_client* client, uint64_t* ids,
                                                          size_t n, char* err, size_t err_len);

/* "ok", "no server answered", ...; never NULL. */
KATSUBUSHI_CLIENT_C_API const char* katsubushi_client_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* KATSUBUSHI_CLIENT_H */
