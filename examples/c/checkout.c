/* Checks out one seat of a feature, prints it, and checks it back in.
 *
 *   cc checkout.c $(pkg-config --cflags --libs tessera-client) -o checkout
 *   TESSERA_SERVERS=license1:7400,license2:7400 ./checkout cad 2.1
 *
 * With TESSERA_VENDOR_PUB=vendor-root.spki (the vendor root public key, DER or PEM) the lease
 * token is verified; a real application builds the key in instead.
 *
 * Exit status: 0 when a seat was granted and returned, 2 when denied, 3 when the lease token
 * was rejected, 1 on errors. */
#include <stdio.h>
#include <stdlib.h>

#include <tessera/tessera_client.h>

static void on_lease_event(void* user_data, const tessera_lease_event* event) {
  (void)user_data;
  fprintf(stderr, "lease %s: event %d (%s)\n", event->lease_id, event->kind, event->detail);
}

int main(int argc, char** argv) {
  const char* feature = argc > 1 ? argv[1] : "cad";
  const char* version = argc > 2 ? argv[2] : "";
  const char* servers = getenv("TESSERA_SERVERS");
  if (servers == NULL || *servers == '\0') {
    fprintf(stderr, "set TESSERA_SERVERS=host:port[,host:port...]\n");
    return 1;
  }

  tessera_options* options = tessera_options_new();
  if (options == NULL || tessera_options_add_servers(options, servers) != TESSERA_OK ||
      tessera_options_set_identity(options, NULL, NULL, NULL, "checkout.c", "1.0") != TESSERA_OK ||
      tessera_options_set_lease_callback(options, on_lease_event, NULL) != TESSERA_OK) {
    fprintf(stderr, "options: %s\n", tessera_last_error());
    tessera_options_free(options);
    return 1;
  }
  const char* vendor_pub = getenv("TESSERA_VENDOR_PUB");
  if (vendor_pub != NULL && *vendor_pub != '\0' &&
      tessera_options_set_vendor_key_file(options, vendor_pub) != TESSERA_OK) {
    fprintf(stderr, "vendor key: %s\n", tessera_last_error());
    tessera_options_free(options);
    return 1;
  }
  tessera_client* client = NULL;
  int rc = tessera_client_new(options, &client);
  tessera_options_free(options);
  if (rc != TESSERA_OK) {
    fprintf(stderr, "client: %s\n", tessera_last_error());
    return 1;
  }

  tessera_lease* lease = NULL;
  int denial = 0;
  rc = tessera_checkout(client, feature, version, 1, 0, 0, &lease, &denial);
  if (rc == TESSERA_DENIED) {
    fprintf(stderr, "denied (%s): %s\n", tessera_denial_reason_name(denial), tessera_last_error());
    tessera_client_free(client);
    return 2;
  }
  if (rc == TESSERA_E_TOKEN_REJECTED) {
    fprintf(stderr, "lease token rejected (%s): %s\n",
            tessera_token_error_name(tessera_last_token_error()), tessera_last_error());
    tessera_client_free(client);
    return 3;
  }
  if (rc != TESSERA_OK) {
    fprintf(stderr, "checkout failed (%s): %s\n", tessera_result_name(rc), tessera_last_error());
    tessera_client_free(client);
    return 1;
  }
  printf("granted lease %s feature=%s version=%s count=%u expires_at_ms=%lld\n",
         tessera_lease_id(lease), tessera_lease_feature(lease), tessera_lease_version(lease),
         tessera_lease_count(lease), (long long)tessera_lease_expires_at_ms(lease));
  if (tessera_lease_token_verified(lease)) {
    printf("token verified appliance=%s customer=%s block=%llu\n",
           tessera_lease_appliance_id(lease), tessera_lease_customer(lease),
           (unsigned long long)tessera_lease_block_sequence(lease));
  }

  tessera_status* status = NULL;
  if (tessera_get_status(client, feature, &status) == TESSERA_OK) {
    for (int i = 0; i < tessera_status_feature_count(status); ++i) {
      printf("feature %s in_use=%u seats=%u\n", tessera_status_feature_name(status, i),
             tessera_status_feature_in_use(status, i), tessera_status_feature_seats(status, i));
    }
    tessera_status_free(status);
  }

  int released = 0;
  rc = tessera_checkin(client, tessera_lease_id(lease), &released);
  if (rc != TESSERA_OK || !released) {
    fprintf(stderr, "checkin failed (%s): %s\n", tessera_result_name(rc), tessera_last_error());
    tessera_lease_free(lease);
    tessera_client_free(client);
    return 1;
  }
  printf("checked in %s\n", tessera_lease_id(lease));
  tessera_lease_free(lease);
  tessera_client_free(client);
  return 0;
}
