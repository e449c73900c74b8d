#!/usr/bin/env python3
"""Checks out one seat of a feature through libtessera-client's C ABI (ctypes), prints it,
and checks it back in.

    TESSERA_SERVERS=license1:7400 python3 checkout.py cad 2.1

The library is found through TESSERA_CLIENT_LIB (a path) or the system loader
(libtessera-client.so.0). With TESSERA_VENDOR_PUB=vendor-root.spki the lease token is
verified against that vendor root public key (a real application builds the key in).
Exit status: 0 granted and returned, 2 denied, 3 lease token rejected, 1 error.
"""
import ctypes
import ctypes.util
import os
import sys

OK, DENIED, TOKEN_REJECTED = 0, 1, -8


def load_library():
    path = os.environ.get("TESSERA_CLIENT_LIB") or ctypes.util.find_library("tessera-client")
    lib = ctypes.CDLL(path or "libtessera-client.so.0")
    c_void_p, c_char_p, c_int, c_int64, c_uint32 = (
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int64, ctypes.c_uint32)
    signatures = {
        "tessera_last_error": (c_char_p, []),
        "tessera_result_name": (c_char_p, [c_int]),
        "tessera_denial_reason_name": (c_char_p, [c_int]),
        "tessera_options_new": (c_void_p, []),
        "tessera_options_free": (None, [c_void_p]),
        "tessera_options_add_servers": (c_int, [c_void_p, c_char_p]),
        "tessera_options_set_identity": (
            c_int, [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_char_p]),
        "tessera_client_new": (c_int, [c_void_p, ctypes.POINTER(c_void_p)]),
        "tessera_client_free": (None, [c_void_p]),
        "tessera_checkout": (c_int, [c_void_p, c_char_p, c_char_p, c_uint32, c_int64, c_int64,
                                     ctypes.POINTER(c_void_p), ctypes.POINTER(c_int)]),
        "tessera_checkin": (c_int, [c_void_p, c_char_p, ctypes.POINTER(c_int)]),
        "tessera_lease_free": (None, [c_void_p]),
        "tessera_lease_id": (c_char_p, [c_void_p]),
        "tessera_lease_feature": (c_char_p, [c_void_p]),
        "tessera_lease_count": (c_uint32, [c_void_p]),
        "tessera_lease_expires_at_ms": (c_int64, [c_void_p]),
        "tessera_options_set_vendor_key_file": (c_int, [c_void_p, c_char_p]),
        "tessera_last_token_error": (c_int, []),
        "tessera_token_error_name": (c_char_p, [c_int]),
        "tessera_lease_token_verified": (c_int, [c_void_p]),
        "tessera_lease_appliance_id": (c_char_p, [c_void_p]),
        "tessera_lease_block_sequence": (ctypes.c_uint64, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def main():
    feature = (sys.argv[1] if len(sys.argv) > 1 else "cad").encode()
    version = (sys.argv[2] if len(sys.argv) > 2 else "").encode()
    servers = os.environ.get("TESSERA_SERVERS", "")
    if not servers:
        print("set TESSERA_SERVERS=host:port[,host:port...]", file=sys.stderr)
        return 1
    lib = load_library()

    def error():
        return lib.tessera_last_error().decode()

    options = lib.tessera_options_new()
    lib.tessera_options_add_servers(options, servers.encode())
    lib.tessera_options_set_identity(options, None, None, None, b"checkout.py", b"1.0")
    vendor_pub = os.environ.get("TESSERA_VENDOR_PUB", "")
    if vendor_pub and lib.tessera_options_set_vendor_key_file(options, vendor_pub.encode()) != OK:
        print(f"vendor key: {error()}", file=sys.stderr)
        lib.tessera_options_free(options)
        return 1
    client = ctypes.c_void_p()
    rc = lib.tessera_client_new(options, ctypes.byref(client))
    lib.tessera_options_free(options)
    if rc != OK:
        print(f"client: {error()}", file=sys.stderr)
        return 1
    try:
        lease = ctypes.c_void_p()
        denial = ctypes.c_int()
        rc = lib.tessera_checkout(client, feature, version, 1, 0, 0, ctypes.byref(lease),
                                  ctypes.byref(denial))
        if rc == DENIED:
            reason = lib.tessera_denial_reason_name(denial.value).decode()
            print(f"denied ({reason}): {error()}", file=sys.stderr)
            return 2
        if rc == TOKEN_REJECTED:
            tag = lib.tessera_token_error_name(lib.tessera_last_token_error()).decode()
            print(f"lease token rejected ({tag}): {error()}", file=sys.stderr)
            return 3
        if rc != OK:
            print(f"checkout failed ({lib.tessera_result_name(rc).decode()}): {error()}",
                  file=sys.stderr)
            return 1
        lease_id = lib.tessera_lease_id(lease)
        print(f"granted lease {lease_id.decode()} "
              f"feature={lib.tessera_lease_feature(lease).decode()} "
              f"count={lib.tessera_lease_count(lease)} "
              f"expires_at_ms={lib.tessera_lease_expires_at_ms(lease)}")
        if lib.tessera_lease_token_verified(lease):
            print(f"token verified appliance={lib.tessera_lease_appliance_id(lease).decode()} "
                  f"block={lib.tessera_lease_block_sequence(lease)}")
        released = ctypes.c_int()
        rc = lib.tessera_checkin(client, lease_id, ctypes.byref(released))
        lib.tessera_lease_free(lease)
        if rc != OK or not released.value:
            print(f"checkin failed: {error()}", file=sys.stderr)
            return 1
        print(f"checked in {lease_id.decode()}")
        return 0
    finally:
        lib.tessera_client_free(client)


if __name__ == "__main__":
    sys.exit(main())
