/* grpc:// for the C ABI (katsubushi/client.h): in libkatsubushi-client-grpc.so,
 * which depends on libkatsubushi-client.so. Call katsubushi_client_enable_grpc()
 * once, before katsubushi_client_create() with grpc:// or grpc+unix: servers;
 * without it those servers are KATSUBUSHI_CLIENT_BAD_SERVER_LIST. From Python:
 *
 *   ctypes.CDLL("libkatsubushi-client-grpc.so.0").katsubushi_client_enable_grpc()
 *   lib = ctypes.CDLL("libkatsubushi-client.so.0")   # the same library it loaded
 */
#ifndef KATSUBUSHI_CLIENT_GRPC_H
#define KATSUBUSHI_CLIENT_GRPC_H

#include "katsubushi/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thread-safe; calling it again does nothing more. */
KATSUBUSHI_CLIENT_C_API void katsubushi_client_enable_grpc(void);

#ifdef __cplusplus
}
#endif

#endif /* KATSUBUSHI_CLIENT_GRPC_H */
