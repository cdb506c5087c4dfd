#!/usr/bin/env bash
# Starts a local three-node Cairn cluster of real processes on 127.0.0.1 and stops every one of
# them on Ctrl-C or when any of them exits. Data and logs go to ./cairn-cluster/ (CAIRN_CLUSTER_DIR);
# CAIRND_ARGS adds flags to every node (e.g. --enable-pprof).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CAIRND_BIN:-bin/cairnd}
[ -x "$bin" ] || go build -o bin/cairnd ./cmd/cairnd
base=${CAIRN_CLUSTER_DIR:-cairn-cluster}
mkdir -p "$base"
names=(n1 n2 n3)
client=(2379 22379 32379)
peer=(2380 22380 32380)
initial=""
for i in 0 1 2; do
  initial+="${names[$i]}=http://127.0.0.1:${peer[$i]},"
done
initial=${initial%,}
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT
for i in 0 1 2; do
  "$bin" --name "${names[$i]}" --data-dir "$base/${names[$i]}" \
    --listen-client-urls "http://127.0.0.1:${client[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${client[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${peer[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${peer[$i]}" \
    --initial-cluster "$initial" --initial-cluster-state new \
    --initial-cluster-token local-cluster ${CAIRND_ARGS:-} >"$base/${names[$i]}.log" 2>&1 &
  pids+=($!)
done
for i in 0 1 2; do
  ok=""
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:${client[$i]}/health" >/dev/null; then ok=1; break; fi
    kill -0 "${pids[$i]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "${names[$i]} did not become healthy; its log ends with:" >&2
    tail -n 5 "$base/${names[$i]}.log" >&2
    exit 1
  fi
done
echo "cluster up: http://127.0.0.1:2379, http://127.0.0.1:22379, http://127.0.0.1:32379 (logs in $base/)"
echo "try: ETCDCTL_API=2 etcdctl --endpoints http://127.0.0.1:2379 member list"
wait -n || true
echo "a node exited; stopping the cluster (see $base/*.log)"
