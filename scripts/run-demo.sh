#!/usr/bin/env bash
# Runs the Tessera appliance with the demo entitlement and shows a client using it:
# installs the Debian packages, builds tesserad, tessera-client, tessera and tessera-vendor
# (preset dev), starts a software TPM (swtpm) and provisions the appliance identity key in
# it, certifies that key with a development vendor root key, starts tesserad on 127.0.0.1,
# checks a seat out (its lease token verified against the vendor key), prints the status,
# checks the seat in, stops tesserad with SIGTERM (a clean drain, exit 0), and verifies and
# shows the TPM-signed audit chain of the run.
# Usage: scripts/run-demo.sh   (as root on Debian 12, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing dependencies"
scripts/install-deps.sh

step "building tesserad, tessera-client, tessera and tessera-vendor (preset dev)"
cmake --preset dev >/dev/null
cmake --build --preset dev --target tesserad tessera-client tessera tessera-vendor -j "$(nproc)"
TESSERAD=build/dev/server/tesserad
CLIENT=build/dev/client/tessera-client
ADMIN=build/dev/admin/cli/tessera
VENDOR=build/dev/vendor/tessera-vendor

work="$(mktemp -d -t tessera-demo-XXXXXX)"
server_pid=""
holder_pid=""
tpm_pid=""
cleanup() {
  [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null || true
  [ -n "$tpm_pid" ] && kill "$tpm_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "starting a software TPM (swtpm) and provisioning the appliance identity key in it"
mkdir -p "$work/tpm"
swtpm socket --tpm2 --server "type=unixio,path=$work/tpm/tpm.sock" \
  --ctrl "type=unixio,path=$work/tpm/tpm.sock.ctrl" --flags not-need-init,startup-clear \
  --tpmstate "dir=$work/tpm" >"$work/swtpm.log" 2>&1 &
tpm_pid=$!
# tpm2-tss logs every probe for a handle that does not exist yet as an error; keep it quiet.
export TSS2_LOG=all+none
for _ in $(seq 1 100); do [ -S "$work/tpm/tpm.sock" ] && break; sleep 0.05; done
key_uri="tpm:tcti=swtpm:path=$work/tpm/tpm.sock"
"$ADMIN" provision --key-uri "$key_uri"
echo "provisioning again keeps the same key:"
"$ADMIN" provision --key-uri "$key_uri"
"$ADMIN" key info --key-uri "$key_uri"

step "certifying the appliance key with a development vendor root key (stands in for the vendor's)"
"$VENDOR" dev-init --dir "$work/vendor"
"$VENDOR" certify --vendor-key "soft:$work/vendor/vendor-root.pem" --insecure-dev-keys \
  --appliance-key-uri "$key_uri" --customer "Demo Customer" --days 30 --out "$work/appliance.cert"
vendor_pub="$work/vendor/vendor-root.spki"

step "starting tesserad with examples/demo-entitlement.json and examples/demo-rules.json"
"$TESSERAD" --listen 127.0.0.1:0 --port-file "$work/port" \
  --entitlement examples/demo-entitlement.json --rules examples/demo-rules.json \
  --key-uri "$key_uri" --certificate "$work/appliance.cert" \
  --db "$work/tesserad.db" --server-id demo --drain-grace-ms 2000 2>"$work/tesserad.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/tesserad.log" >&2
    echo "run-demo: tesserad exited early" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$work/port" ] || { echo "run-demo: tesserad did not start" >&2; exit 1; }
port="$(cat "$work/port")"
server="127.0.0.1:$port"
echo "tesserad (pid $server_pid) listening on $server"

# The client verifies every lease token against the vendor root public key.
client() {
  "$CLIENT" --server "$server" --vendor-pub "$vendor_pub" --user alice --client-id "demo-$1" "${@:2}"
}

step "status before"
client status status

step "alice checks out one seat of cad-pro 2.0 (held for 4 seconds, then checked in)"
client holder checkout cad-pro --version 2.0 --hold-for 4 &
holder_pid=$!
sleep 1.5

step "status while the seat is held"
client status status

step "waiting for the holder to check the seat in"
wait "$holder_pid"
holder_pid=""

step "status after check-in"
client status status

step "stopping tesserad (SIGTERM: drain, then exit)"
kill -TERM "$server_pid"
set +e
wait "$server_pid"
code=$?
set -e
server_pid=""
echo "tesserad exited with code $code"

step "tesserad log (structured, one event per line)"
cat "$work/tesserad.log"
[ "$code" -eq 0 ] || { echo "run-demo: tesserad did not exit cleanly" >&2; exit 1; }

step "verifying the audit chain offline (every block signed in the TPM, chained, certified)"
"$ADMIN" audit verify --db "$work/tesserad.db" --vendor-pub "$vendor_pub"

step "the audit events of this run"
"$ADMIN" audit show --db "$work/tesserad.db"
echo
echo "demo done"
