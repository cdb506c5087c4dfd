#!/usr/bin/env bash
# bench-auth.sh: what authentication costs. Serializable reads on a three-member Cairn
# cluster with auth off, then with auth on and every request carrying HTTP Basic credentials
# (as etcdctl, python-etcd and Patroni send them), alternating off/on REPS times; then the
# same two on a three-member etcd 3.4 cluster, whose v2 API runs bcrypt on every such request.
# Prints each run and the ratio on/off per system. Every process it starts is stopped on exit.
#
# Environment: REPS [2], DURATION [10s], WARMUP [2s], CLIENTS [64], KEY_COUNT [10000],
# ETCD_DURATION [5s] (etcd with auth does tens of requests a second: a short run says enough),
# SYSTEMS ["cairn etcd"], OUT [a new mktemp directory].
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-2} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-2s} CLIENTS=${CLIENTS:-64}
KEY_COUNT=${KEY_COUNT:-10000} ETCD_DURATION=${ETCD_DURATION:-5s} SYSTEMS=${SYSTEMS:-"cairn etcd"}
OUT=${OUT:-$(mktemp -d /tmp/bench-auth.XXXXXX)}
mkdir -p "$OUT"
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	log "results and logs in $OUT"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$OUT/bin/" ./cmd/cairnd ./cmd/cairn-bench
BENCH=$OUT/bin/cairn-bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_cluster SYSTEM: three members on fresh loopback ports; sets EPS (client URLs).
start_cluster() {
	local sys=$1 i cport pport initial="" names=() cports=() pports=()
	for i in 1 2 3; do
		cports+=("$(free_port)"); pports+=("$(free_port)"); names+=("$sys$i")
		initial+="${initial:+,}$sys$i=http://127.0.0.1:${pports[-1]}"
	done
	EPS=""
	for i in 0 1 2; do
		cport=${cports[$i]} pport=${pports[$i]}
		local dir=$OUT/$sys-data-$((i + 1)) common=(--name "${names[$i]}" --data-dir "$OUT/$sys-data-$((i + 1))"
			--listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport"
			--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport"
			--initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "bench-auth-$sys")
		rm -rf "$dir"
		if [[ $sys == etcd ]]; then
			etcd "${common[@]}" --enable-v2 >"$OUT/$sys-$((i + 1)).log" 2>&1 &
		else
			"$OUT/bin/cairnd" "${common[@]}" >"$OUT/$sys-$((i + 1)).log" 2>&1 &
		fi
		PIDS+=($!)
		EPS+="${EPS:+,}http://127.0.0.1:$cport"
	done
	for ep in ${EPS//,/ }; do
		for _ in $(seq 1 300); do
			[[ $(curl -s --max-time 1 "$ep/health" || true) == *'"health":"true"'* ]] && break
			sleep 0.1
		done
	done
}

stop_cluster() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}

# api METHOD PATH BODY [user:password]: one v2 auth call, failing the script on an error.
api() {
	local ep=${EPS%%,*} code
	code=$(curl -s -o "$OUT/api.out" -w '%{http_code}' -X "$1" ${4:+-u "$4"} ${3:+-d "$3"} "$ep$2")
	((code < 300)) || die "$1 $2: $code $(cat "$OUT/api.out")"
}

# set_up_auth makes the users and roles once: root, and bench with read/write on /bench/*. A
# guest role without permissions is made first, so that enabling auth never creates the
# default one (read and write on /*): anonymous requests get nothing.
set_up_auth() {
	api PUT /v2/auth/users/root '{"user":"root","password":"rootpw"}'
	api PUT /v2/auth/roles/bench '{"role":"bench","permissions":{"kv":{"read":["/bench/*"],"write":["/bench/*"]}}}'
	api PUT /v2/auth/roles/guest '{"role":"guest"}'
	api PUT /v2/auth/users/bench '{"user":"bench","password":"benchpw","roles":["bench"]}'
}
auth_on() { api PUT /v2/auth/enable "" root:rootpw; }
auth_off() { api DELETE /v2/auth/enable "" root:rootpw; }

# run SYSTEM LABEL DURATION [user:password]: one serializable-read run, its JSON appended.
run() {
	"$BENCH" sget --target "$1" --endpoints "$EPS" --clients "$CLIENTS" --key-count "$KEY_COUNT" \
		--duration "$3" --warmup "$WARMUP" --preload=false --label "$1 $2" --json --progress=false ${4:+--user "$4"} |
		tee -a "$OUT/results.jsonl"
}

for sys in $SYSTEMS; do
	log "$sys: starting three members"
	start_cluster "$sys"
	"$BENCH" put --target "$sys" --endpoints "$EPS" --clients 32 --key-count "$KEY_COUNT" --key-order sequential \
		--total "$KEY_COUNT" --json --progress=false >/dev/null
	set_up_auth
	d=$DURATION
	[[ $sys == etcd ]] && d=$ETCD_DURATION
	for rep in $(seq 1 "$REPS"); do
		log "$sys: rep $rep, auth off"
		run "$sys" "auth-off" "$d"
		auth_on
		log "$sys: rep $rep, auth on"
		run "$sys" "auth-on" "$d" bench:benchpw
		auth_off
	done
	stop_cluster
done

python3 - "$OUT/results.jsonl" <<'PY'
import json, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["label"]].append(r)
print(f"{'system':8} {'auth':9} {'ops/s (each run)':30} {'errors':>7}")
for label, rs in sorted(runs.items()):
    sysname, mode = label.split()
    print(f"{sysname:8} {mode:9} {', '.join(str(round(r['ops_per_s'])) for r in rs):30} {sum(r.get('errors_total', 0) for r in rs):>7}")
for sysname in sorted({l.split()[0] for l in runs}):
    off = [r["ops_per_s"] for r in runs.get(sysname + " auth-off", [])]
    on = [r["ops_per_s"] for r in runs.get(sysname + " auth-on", [])]
    if off and on:
        print(f"{sysname}: auth on / auth off = {sum(on)/len(on) / (sum(off)/len(off)):.3f}")
PY
