/* fetch_c SERVERS: one id through the C ABI, printed; exit 1 on failure.
 * Built with FETCH_GRPC (fetch_c_grpc): grpc:// enabled first. */
#include <katsubushi/client.h>
#ifdef FETCH_GRPC
#include <katsubushi/client_grpc.h>
#endif

#include <inttypes.h>
#include <stdio.h>

int main(int argc, char** argv) {
  char err[512];
  katsubushi_client* client = NULL;
  uint64_t id = 0;
  if (argc != 2) return 2;
#ifdef FETCH_GRPC
  katsubushi_client_enable_grpc();
#endif
  if (katsubushi_client_create(argv[1], NULL, &client, err, sizeof err) != KATSUBUSHI_CLIENT_OK) {
    fprintf(stderr, "fetch_c: %s\n", err);
    return 2;
  }
  int status = katsubushi_client_fetch(client, &id, err, sizeof err);
  katsubushi_client_destroy(client);
  if (status != KATSUBUSHI_CLIENT_OK) {
    fprintf(stderr, "fetch_c: %s: %s\n", katsubushi_client_status_name(status), err);
    return 1;
  }
  printf("%" PRIu64 "\n", id);
  return 0;
}
