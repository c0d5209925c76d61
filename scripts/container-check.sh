#!/usr/bin/env bash
# npm run container:check: build the real Dockerfile, then prove the image works.
#   1. the image runs as `node`, with NODE_ENV=production and an exec-form CMD; reports its size;
#   2. the bundled emulator runs from the same image (`node dist/emulator/main.js`);
#   3. the broker (the image's CMD) on a read-only root filesystem, as Kubernetes runs it, serves
#      /healthz and /readyz, then exits 0 on SIGTERM;
#   4. the broker, trusting the emulator's certificate, mints a restricted viewer token for a caller
#      token from the emulator, then exits 0 on SIGTERM.
# Engine: Docker when an engine answers (`docker info`), otherwise ../shared/tools/container-check
# (podman, chroot; shares the host's network). Everything listens on 127.0.0.1 only.
# Environment: CONTAINER_CHECK_TAG (vi-token-broker:check), CONTAINER_CHECK_TOOL (the shared tool's path),
# CHECK_BROKER_PORT (18080), CHECK_EMULATOR_PORT (18081), CHECK_EMULATOR_ARM_PORT (18443), CHECK_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export HTTP_PROXY= HTTPS_PROXY= http_proxy= https_proxy= NO_PROXY=127.0.0.1,localhost

tag=${CONTAINER_CHECK_TAG:-vi-token-broker:check}
broker_port=${CHECK_BROKER_PORT:-18080}
emulator_port=${CHECK_EMULATOR_PORT:-18081}
arm_port=${CHECK_EMULATOR_ARM_PORT:-18443}
tool=${CONTAINER_CHECK_TOOL:-$(pwd)/../shared/tools/container-check}
work=$(mktemp -d)
say() { printf 'container:check: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=docker
elif [[ -x $tool ]]; then
  engine=tool
else
  say "no Docker engine and no container-check tool at $tool"; exit 2
fi
say "engine: $engine"

# --- running containers: start NAME [--read-only] [-v HOSTFILE:DEST] [-e K=V]... [-- CMD...] ---------------
declare -A pids handles
start() {
  local name=$1; shift
  local log=$work/$name.log
  if [[ $engine == docker ]]; then
    local args=(run --rm --name "vi-token-broker-check-$name" --network host) rest=()
    while (($#)); do
      case $1 in
        --read-only) args+=(--read-only); shift ;;
        -v) args+=(-v "$2:ro"); shift 2 ;;
        -e) args+=(-e "$2"); shift 2 ;;
        --) shift; rest=("$@"); break ;;
      esac
    done
    docker "${args[@]}" "$tag" "${rest[@]}" >"$log" 2>&1 &
  else
    handles[$name]=$work/$name.handle
    # The tool execs the command under chroot, so this PID becomes the container's node process.
    CONTAINER_CHECK_HANDLE=${handles[$name]} "$tool" run "$tag" "$@" >"$log" 2>&1 &
  fi
  pids[$name]=$!
}
# stop NAME: SIGTERM to the container's process; sets stopped_rc to its exit code
stop() {
  local name=$1 rc=0
  if [[ $engine == docker ]]; then docker kill --signal TERM "vi-token-broker-check-$name" >/dev/null 2>&1 || true
  else kill -TERM "${pids[$name]}" 2>/dev/null || true; fi
  wait "${pids[$name]}" || rc=$?
  unset "pids[$name]"
  release "$name"
  stopped_rc=$rc
}
release() {
  local h=${handles[$1]:-}
  [[ -n $h && -f $h ]] || return 0
  local ctr; ctr=$(cat "$h"); rm -f "$h"
  if [[ $ctr == image:* ]]; then podman image unmount "$tag" >/dev/null 2>&1 || true
  elif [[ -n $ctr ]]; then podman umount "$ctr" >/dev/null 2>&1 || true; podman rm "$ctr" >/dev/null 2>&1 || true; fi
}
cleanup() {
  local name
  for name in "${!pids[@]}"; do
    if [[ $engine == docker ]]; then docker kill "vi-token-broker-check-$name" >/dev/null 2>&1 || true
    else kill -KILL "${pids[$name]}" 2>/dev/null || true; fi
    wait "${pids[$name]}" 2>/dev/null || true
    release "$name"
  done
  rm -rf "$work"
}
trap cleanup EXIT
show_log() { say "--- $1's output ---"; tail -n 30 "$work/$1.log" || true; }
# wait_http URL [SECONDS]: until it answers 2xx
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-30}))
  until node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$url"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# --- 1. build and inspect --------------------------------------------------------------------------------
if [[ ${CHECK_SKIP_BUILD:-} != 1 ]]; then
  say "building $tag from ./Dockerfile"
  if [[ $engine == docker ]]; then docker build -t "$tag" . ; else "$tool" build -t "$tag" . ; fi
fi
inspector=docker; [[ $engine == tool ]] && inspector=podman
user=$($inspector image inspect "$tag" --format '{{.Config.User}}')
envs=$($inspector image inspect "$tag" --format '{{range .Config.Env}}{{println .}}{{end}}')
cmd=$($inspector image inspect "$tag" --format '{{json .Config.Cmd}}')
entrypoint=$($inspector image inspect "$tag" --format '{{json .Config.Entrypoint}}')
size=$($inspector image inspect "$tag" --format '{{.Size}}')
[[ $user == node ]] || fail "the image's USER is '$user', not node"
grep -qx 'NODE_ENV=production' <<<"$envs" || fail "NODE_ENV=production is not set in the image"
[[ $cmd == '["node","--enable-source-maps","dist/server.bundle.js"]' ]] ||
  fail "CMD is $cmd, not [\"node\",\"--enable-source-maps\",\"dist/server.bundle.js\"]"
[[ $entrypoint == null || $entrypoint == '[]' ]] || fail "unexpected ENTRYPOINT $entrypoint"
say "image $tag: USER node, NODE_ENV=production, CMD $cmd, size $((size / 1000000)) MB ($size bytes)"

# --- 2. the emulator, from the same image ---------------------------------------------------------------------
start emulator -e EMULATOR_HOST=127.0.0.1 -e EMULATOR_PORT="$emulator_port" -e EMULATOR_ARM_PORT="$arm_port" \
  -e EMULATOR_LOG_LEVEL=warn -- node dist/emulator/main.js
deadline=$((SECONDS + 30))
until grep -q '"emulator-ready"' "$work/emulator.log" 2>/dev/null; do
  ((SECONDS < deadline)) && kill -0 "${pids[emulator]}" 2>/dev/null || { show_log emulator; fail "the emulator did not start"; }
  sleep 0.3
done
ready=$(grep -m1 '"emulator-ready"' "$work/emulator.log")
field() { node -e 'process.stdout.write(String(JSON.parse(process.argv[1])[process.argv[2]]))' "$ready" "$1"; }
say "emulator ready from the image: $(field armEndpoint)"
# Trust on first use, for this check only: the emulator's self-signed certificate is its own CA.
node -e "
const tls = require('node:tls')
const socket = tls.connect({ host: '127.0.0.1', port: Number(process.argv[1]), rejectUnauthorized: false }, () => {
  const raw = socket.getPeerCertificate().raw.toString('base64').match(/.{1,64}/g).join('\n')
  require('node:fs').writeFileSync(process.argv[2], '-----BEGIN CERTIFICATE-----\n' + raw + '\n-----END CERTIFICATE-----\n')
  socket.end()
})" "$arm_port" "$work/emulator-ca.pem"

broker_env=(
  -e HOST=127.0.0.1 -e PORT="$broker_port" -e LOG_LEVEL=info
  -e AVI_SUBSCRIPTION_ID=b04775c3-63fa-40f3-9430-139d2e5522d3
  -e AVI_RESOURCE_GROUP=contosto-azurevideoindexer-rg
  -e AVI_ACCOUNT_NAME=contosto-azurevideoindexer
  -e ARM_ENDPOINT="$(field armEndpoint)"
  -e IDENTITY_ENDPOINT="$(field identityEndpoint)"
  -e IDENTITY_HEADER="$(field identityHeader)"
  -e AUTH_JWKS_URI="$(field jwksUri)"
  -e AUTH_ISSUER="$(field issuer)"
  -e AUTH_AUDIENCE="$(field audience)"
  -e POLICY_FILE=/etc/vi-token-broker/policy.json
  -e NODE_EXTRA_CA_CERTS=/etc/vi-token-broker/emulator-ca.pem
  -e AUDIT_HMAC_KEY=container-check-audit-hmac-key-0123456789
)

# --- 3. the broker, as Kubernetes runs it: read-only root filesystem, policy and CA as read-only files ------
if [[ $engine == docker ]]; then
  start broker --read-only -v "$(pwd)/config/policy.sample.json:/etc/vi-token-broker/policy.json" \
    -v "$work/emulator-ca.pem:/etc/vi-token-broker/emulator-ca.pem" "${broker_env[@]}"
else
  # The tool cannot copy files into a read-only root, so a throwaway layer on top of the image stands in
  # for the two volumes (the ConfigMap and the CA); the image under test is unchanged.
  mkdir -p "$work/ctx"
  cp config/policy.sample.json "$work/ctx/policy.json"; cp "$work/emulator-ca.pem" "$work/ctx/emulator-ca.pem"
  printf 'FROM %s\nCOPY policy.json emulator-ca.pem /etc/vi-token-broker/\n' "$tag" >"$work/ctx/Dockerfile"
  podman build -q --isolation chroot --pull=never -t "$tag-volumes" "$work/ctx" >/dev/null
  saved_tag=$tag; tag=$tag-volumes
  start broker --read-only "${broker_env[@]}"
  tag=$saved_tag
fi
wait_http "http://127.0.0.1:$broker_port/healthz" 30 || { show_log broker; fail "the broker did not answer /healthz"; }
wait_http "http://127.0.0.1:$broker_port/readyz" 10 || { show_log broker; fail "the broker did not answer /readyz"; }
say "broker (read-only root filesystem) answers /healthz and /readyz"
if [[ $engine == tool ]]; then
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/${pids[broker]}/status")
  [[ $uid == 1000 ]] || fail "the broker runs as uid $uid, not node (1000)"
  say "broker process runs as uid 1000 (node)"
fi

# --- 4. a token through the broker ------------------------------------------------------------------------------
node -e "
const [admin, broker] = process.argv.slice(1)
const post = await fetch(admin + '/caller-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ caller: 'portal-bff' }) })
if (!post.ok) throw new Error('caller token: ' + post.status)
const { token } = await post.json()
const response = await fetch(broker + '/tokens/video/abc123', { headers: { authorization: 'Bearer ' + token } })
const body = await response.json()
if (response.status !== 200 || typeof body.accessToken !== 'string' || body.accessToken.split('.').length !== 3) {
  console.error('unexpected answer', response.status, JSON.stringify(body).slice(0, 300)); process.exit(1)
}
const denied = await fetch(broker + '/tokens/account', { headers: { authorization: 'Bearer ' + token } })
if (denied.status !== 403) { console.error('portal-bff got', denied.status, 'for an Account token'); process.exit(1) }
console.log('container:check: minted a ' + body.scope + ' token for ' + body.videoId + ' (expires ' + body.expiresOn + '); Account scope denied (403)')
" --input-type=module "$(field adminUrl)" "http://127.0.0.1:$broker_port" || { show_log broker; fail "no token through the broker"; }
grep -q '"audit":true' "$work/broker.log" || { show_log broker; fail "no audit record in the broker's output"; }

# --- 5. SIGTERM: a clean exit -----------------------------------------------------------------------------------------
started=$SECONDS
stop broker
say "broker exited with $stopped_rc, $((SECONDS - started)) s after SIGTERM"
[[ $stopped_rc == 0 ]] || { show_log broker; fail "the broker did not exit 0 on SIGTERM"; }
stop emulator
[[ $stopped_rc == 0 ]] || { show_log emulator; fail "the emulator did not exit 0 on SIGTERM"; }
[[ $engine == tool ]] && podman rmi "$tag-volumes" >/dev/null 2>&1 || true
say "OK"
