#!/usr/bin/env bash
# bench-compare.sh: etcd 3.4 (v2 API) and Cairn side by side on this machine.
#
# Starts a three-member etcd and a three-node Cairn cluster on loopback, runs
# every cairn-bench workload on each in alternation (A B A B) at each client
# count, measures server RSS after loading many keys and the time a restarted
# node takes to serve again, then prints each figure for both systems with the
# ratio Cairn/etcd. Every workload also reports the members' CPU per operation
# (cairn-bench finds the member processes by their client ports). Last, for
# each system a fresh one-member server is filled with RESTART_KEYS keys,
# stopped with SIGTERM (then, on another fresh server, SIGKILL) RESTART_DELAY
# seconds after the fill, and restarted: time to the first served read and
# RSS after the restart. Every process it starts is stopped on exit.
#
# Environment (defaults in brackets):
#   QUICK=1            a ~2-minute run: short workloads, smaller key loads
#   SYSTEMS            "etcd cairn" [auto: etcd, plus cairn when ./cmd/cairnd builds]
#   WORKLOADS          ["put get sget mixed cas watch"]; empty: none
#   CLIENTS            client counts ["16 64"]
#   REPS               runs per system, alternating [2]
#   DURATION, WARMUP   per run [10s, 2s; quick: 1500ms, 300ms]
#   KEY_COUNT          keys the workloads touch [10000; quick: 2000]
#   VALUE_SIZE         [256]
#   READ_RATIO         mixed workload's reads [0.9]
#   WATCH_RATE         watch writer puts/s [200]
#   LOAD_KEYS          key counts after which RSS is read ["100000 1000000"; quick: "20000 50000"]
#                      the node restart is timed holding the last of them; empty: skip
#   LOAD_CLIENTS       clients used to load keys [64]
#   RESTART_KEYS       keys a one-member server is filled with before each restart
#                      [1000000; quick: 50000]; empty: skip the restart phase
#   RESTART_SIGNALS    how the member is stopped ["TERM KILL"]
#   RESTART_DELAY      seconds between the end of the fill and the signal [3]
#   RESTART_REPS       fills and restarts per system and signal, alternating [1]
#   BASE_PORT          first of 14 consecutive loopback ports [first free from 21379]
#   OUT                result directory [a new mktemp directory]; results.jsonl and logs go there
#   KEEP_DATA=1        keep the servers' data directories
#   CAIRND_EXTRA_ARGS  extra cairnd flags for every node; "{n}" becomes the node number 1..3
#   TLS=1              both systems on https:// client and peer URLs with mutual TLS on both
#                      (etcd's and cairnd's --cert-file, --key-file, --trusted-ca-file,
#                      --client-cert-auth and their --peer-* twins), certificates made here by
#                      openssl; default TLS versions and suites on both, since etcd 3.4 has no
#                      flags for them. The generator presents a client certificate (--cacert,
#                      --cert, --key).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ "${QUICK:-0}" == 1 ]]; then
	: "${DURATION:=1500ms}" "${WARMUP:=300ms}" "${KEY_COUNT:=2000}" "${LOAD_KEYS=20000 50000}" "${RESTART_KEYS=50000}"
fi
# WORKLOADS and LOAD_KEYS may be set empty to skip their phase.
: "${WORKLOADS=put get sget mixed cas watch}" "${CLIENTS:=16 64}" "${REPS:=2}"
: "${DURATION:=10s}" "${WARMUP:=2s}" "${KEY_COUNT:=10000}" "${VALUE_SIZE:=256}" "${READ_RATIO:=0.9}"
: "${WATCH_RATE:=200}" "${LOAD_KEYS=100000 1000000}" "${LOAD_CLIENTS:=64}" "${SYSTEMS:=auto}"
: "${RESTART_KEYS=1000000}" "${RESTART_SIGNALS:=TERM KILL}" "${RESTART_DELAY:=3}" "${RESTART_REPS:=1}"
: "${CAIRND_EXTRA_ARGS:=}"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")}
: "${TLS:=0}"
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- processes: every PID we start is recorded and stopped on exit ----
declare -A PID=()   # node name -> pid
declare -A ARGS=()  # node name -> command line (for restarts)
declare -A CURL=()  # node name -> client URL
DATA_DIRS=()

stop_node() {
	local name=$1 pid=${PID[$1]:-}
	[[ -n "$pid" ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
	PID[$name]=""
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for name in "${!PID[@]}"; do stop_node "$name"; done
	if [[ "${KEEP_DATA:-0}" != 1 ]]; then
		for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
	fi
	log "results and logs in $OUT"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_node() { # name logfile binary args...
	local name=$1 logf=$2
	shift 2
	ARGS[$name]="$*"
	"$@" >>"$logf" 2>&1 &
	PID[$name]=$!
}

# wait_serving URL KEY QUERY TIMEOUT_S: poll until GET URL/v2/keys/KEY?QUERY
# answers 200 (with the serializable query, the node itself serves it).
# Prints the seconds waited.
wait_serving() {
	local url=$1 key=$2 query=$3 limit=$4 start now
	start=$(date +%s.%N)
	while :; do
		if [[ $(curl ${CURL_TLS[@]+"${CURL_TLS[@]}"} -s -o /dev/null -w '%{http_code}' --max-time 1 "$url/v2/keys$key?$query") == 200 ]]; then
			now=$(date +%s.%N)
			awk -v a="$start" -v b="$now" 'BEGIN {printf "%.3f\n", b - a}'
			return 0
		fi
		now=$(date +%s.%N)
		if awk -v a="$start" -v b="$now" -v l="$limit" 'BEGIN {exit !(b - a > l)}'; then
			return 1
		fi
		sleep 0.02
	done
}

# A port is free when no socket uses it as its local port: neither a listener
# nor an outgoing connection (ss sees both; a connect probe sees only the first).
port_free() {
	if command -v ss >/dev/null; then
		[[ -z $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
	else
		! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# The default range starts below the kernel's ephemeral ports, which any
# process's outgoing connections may take at any moment.
pick_base_port() {
	local p=${BASE_PORT:-21379} i ok
	while ((p < 60000)); do
		ok=1
		for i in $(seq 0 13); do port_free $((p + i)) || { ok=0; break; }; done
		((ok)) && { echo "$p"; return; }
		p=$((p + 14))
	done
	die "no 14 free consecutive ports"
}

# ---- tools ----
if ! command -v etcd >/dev/null; then
	log "etcd missing: installing Debian's etcd-server"
	SUDO=""
	[[ $(id -u) == 0 ]] || SUDO=sudo
	$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q etcd-server etcd-client
fi
etcd --version | sed -n 1p >&2
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

# ---- certificates (TLS=1) ----
# One CA; one certificate for 127.0.0.1 that every member of both systems serves and dials
# its peers with; one client certificate for curl and the generator.
CURL_TLS=()
BENCH_TLS=()
SERVER_TLS=()
SCHEME=http
if [[ "$TLS" == 1 ]]; then
	command -v openssl >/dev/null || die "openssl is needed for TLS=1 (apt-get install openssl)"
	SCHEME=https
	T=$OUT/tls
	mkdir -p "$T"
	ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
	ec "$T/ca-key.pem"
	openssl req -x509 -new -key "$T/ca-key.pem" -subj "/CN=bench-compare CA" -days 2 -out "$T/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	leaf() { # name cn extensions
		ec "$T/$1-key.pem"
		openssl req -new -key "$T/$1-key.pem" -subj "/CN=$2" -out "$T/$1.csr" 2>/dev/null
		printf '%s\n' "$3" >"$T/$1.ext"
		openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca-key.pem" -CAcreateserial \
			-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null
	}
	leaf member bench-member "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature"
	leaf client bench-client "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
	CURL_TLS=(--cacert "$T/ca.pem" --cert "$T/client.pem" --key "$T/client-key.pem")
	BENCH_TLS=(--cacert "$T/ca.pem" --cert "$T/client.pem" --key "$T/client-key.pem")
	SERVER_TLS=(--cert-file "$T/member.pem" --key-file "$T/member-key.pem" --trusted-ca-file "$T/ca.pem"
		--client-cert-auth --peer-cert-file "$T/member.pem" --peer-key-file "$T/member-key.pem"
		--peer-trusted-ca-file "$T/ca.pem" --peer-client-cert-auth)
	log "TLS: certificates in $T"
fi

mkdir -p bin
log "building cairn-bench"
go build -o bin/cairn-bench ./cmd/cairn-bench
BENCH=$ROOT/bin/cairn-bench

if [[ "$SYSTEMS" == auto ]]; then
	SYSTEMS=etcd
	if [[ -d cmd/cairnd ]] && go build -o bin/cairnd ./cmd/cairnd 2>"$OUT/cairnd-build.log"; then
		SYSTEMS="etcd cairn"
	else
		log "cairnd does not build yet (see $OUT/cairnd-build.log): measuring etcd only"
	fi
elif [[ " $SYSTEMS " == *" cairn "* ]]; then
	log "building cairnd"
	go build -o bin/cairnd ./cmd/cairnd
fi

# ---- clusters ----
BASE=$(pick_base_port)
declare -A ENDPOINTS=()
sys_index=0
for sys in $SYSTEMS; do
	initial="" token="bench-$sys-$$"
	for n in 1 2 3; do
		peer=$((BASE + sys_index * 6 + n * 2 - 1))
		initial+="${initial:+,}$sys$n=$SCHEME://127.0.0.1:$peer"
	done
	eps=""
	for n in 1 2 3; do
		name=$sys$n
		client=$((BASE + sys_index * 6 + n * 2 - 2))
		peer=$((client + 1))
		data=$OUT/$name.data
		DATA_DIRS+=("$data")
		rm -rf "$data"
		CURL[$name]=$SCHEME://127.0.0.1:$client
		eps+="${eps:+,}$SCHEME://127.0.0.1:$client"
		args=(--name "$name" --data-dir "$data"
			--listen-client-urls "$SCHEME://127.0.0.1:$client" --advertise-client-urls "$SCHEME://127.0.0.1:$client"
			--listen-peer-urls "$SCHEME://127.0.0.1:$peer" --initial-advertise-peer-urls "$SCHEME://127.0.0.1:$peer"
			--initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "$token"
			${SERVER_TLS[@]+"${SERVER_TLS[@]}"})
		if [[ $sys == etcd ]]; then
			start_node "$name" "$OUT/$name.log" etcd "${args[@]}" --enable-v2=true
		else
			# shellcheck disable=SC2086 # extra args are words on purpose
			start_node "$name" "$OUT/$name.log" "$ROOT/bin/cairnd" "${args[@]}" ${CAIRND_EXTRA_ARGS//\{n\}/$n}
		fi
	done
	ENDPOINTS[$sys]=$eps
	sys_index=$((sys_index + 1))
done
for sys in $SYSTEMS; do
	for n in 1 2 3; do
		# A successful write through every member proves a leader and a quorum.
		for _ in $(seq 1 300); do
			code=$(curl ${CURL_TLS[@]+"${CURL_TLS[@]}"} -s -o /dev/null -w '%{http_code}' --max-time 2 -XPUT "${CURL[$sys$n]}/v2/keys/ready" -d value=1 || true)
			[[ $code == 200 || $code == 201 ]] && break
			kill -0 "${PID[$sys$n]}" 2>/dev/null || die "$sys$n exited; see $OUT/$sys$n.log"
			sleep 0.1
		done
		[[ $code == 200 || $code == 201 ]] || die "$sys$n does not accept writes; see $OUT/$sys$n.log"
	done
	log "$sys cluster up: ${ENDPOINTS[$sys]}"
done

bench() { # system workload args...
	local sys=$1 wl=$2
	shift 2
	"$BENCH" "$wl" --label "$sys" --target "$sys" --endpoints "${ENDPOINTS[$sys]}" \
		--value-size "$VALUE_SIZE" --json --progress=false ${BENCH_TLS[@]+"${BENCH_TLS[@]}"} "$@"
}

# ---- workloads, alternating systems ----
for sys in $SYSTEMS; do
	[[ -n "$WORKLOADS" ]] || break
	log "$sys: preloading $KEY_COUNT keys"
	bench "$sys" put --key-order sequential --total "$KEY_COUNT" --key-count "$KEY_COUNT" --clients 64 >/dev/null
done
for wl in $WORKLOADS; do
	for c in $CLIENTS; do
		extra=(--clients "$c" --key-count "$KEY_COUNT" --duration "$DURATION" --warmup "$WARMUP" --preload=false)
		case $wl in
		mixed) extra+=(--read-ratio "$READ_RATIO") ;;
		watch) extra+=(--watchers "$c" --rate "$WATCH_RATE") ;;
		esac
		for rep in $(seq 1 "$REPS"); do
			for sys in $SYSTEMS; do
				log "$wl clients=$c run $rep/$REPS on $sys"
				bench "$sys" "$wl" "${extra[@]}" | tee -a "$RESULTS" |
					jq -r '"  \(.ops_per_s|floor) ops/s  p50 \(.latency.p50_ms) ms  p99 \(.latency.p99_ms) ms  errors \(.errors_total)"' >&2
			done
		done
	done
done

# ---- memory with many keys, and restart time ----
metric() { # system name value unit
	jq -cn --arg l "$1" --arg m "$2" --argjson v "$3" --arg u "$4" '{label:$l, metric:$m, value:$v, unit:$u}' >>"$RESULTS"
	log "$1 $2 = $3 $4"
}
# mem_kib SYS FIELD: max and sum over the system's members of a /proc status
# field (VmRSS: resident now; VmHWM: peak resident), in KiB.
mem_kib() {
	local max=0 sum=0 n r
	for n in 1 2 3; do
		r=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/${PID[$1$n]}/status")
		sum=$((sum + r))
		((r > max)) && max=$r
	done
	echo "$max $sum"
}

# settle SYS: wait (at most 60 s) until the members' total RSS changes by less
# than 2% over a second: right after a load, a snapshot in flight can double a
# member's RSS for a moment.
settle() {
	local prev cur i
	prev=$(mem_kib "$1" VmRSS | cut -d' ' -f2)
	for i in $(seq 1 60); do
		sleep 1
		cur=$(mem_kib "$1" VmRSS | cut -d' ' -f2)
		awk -v a="$prev" -v b="$cur" 'BEGIN {d = b - a; if (d < 0) d = -d; exit !(d < a * 0.02)}' && return 0
		prev=$cur
	done
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# One system at a time, each stopped when done, so two clusters holding a
# million keys never share the machine's memory.
for sys in $SYSTEMS; do
	last_load=0
	for keys in $LOAD_KEYS; do
		log "$sys: loading $keys keys under /load"
		bench "$sys" put --key-prefix /load --key-order sequential --total "$keys" --key-count "$keys" \
			--clients "$LOAD_CLIENTS" >>"$OUT/load.jsonl"
		settle "$sys"
		read -r max sum < <(mem_kib "$sys" VmRSS)
		read -r peak _ < <(mem_kib "$sys" VmHWM)
		metric "$sys" "rss_max_member_${keys}_keys" "$(mib "$max")" MiB
		metric "$sys" "rss_sum_3_members_${keys}_keys" "$(mib "$sum")" MiB
		metric "$sys" "rss_peak_member_${keys}_keys" "$(mib "$peak")" MiB
		last_load=$keys
	done
	if ((last_load > 0)); then
		name=${sys}3
		# A load may leave a few keys unwritten (counted as errors in load.jsonl),
		# so the restarted node is asked for a marker written after the load.
		last_key=/load-done
		for _ in $(seq 1 50); do
			code=$(curl ${CURL_TLS[@]+"${CURL_TLS[@]}"} -s -o /dev/null -w '%{http_code}' --max-time 5 -XPUT "${CURL[${sys}1]}/v2/keys$last_key" -d value="$last_load" || true)
			[[ $code == 200 || $code == 201 ]] && break
			sleep 0.2
		done
		[[ $code == 200 || $code == 201 ]] || die "$sys: cannot write $last_key"
		log "$sys: restarting $name holding $last_load keys"
		stop_node "$name"
		# shellcheck disable=SC2086 # ARGS holds the original command line
		start_node "$name" "$OUT/$name.log" ${ARGS[$name]}
		query=""
		[[ $sys == cairn ]] && query=consistency=serializable
		secs=$(wait_serving "${CURL[$name]}" "$last_key" "$query" 600) || die "$name did not serve $last_key within 600s after restart"
		metric "$sys" "restart_to_serving_${last_load}_keys" "$secs" s
	fi
	for n in 1 2 3; do stop_node "$sys$n"; done
done

# ---- restart after a burst: one member, SIGTERM and SIGKILL ----
# The issue-17 procedure: a fresh one-member server is filled with
# RESTART_KEYS keys of VALUE_SIZE bytes by LOAD_CLIENTS clients, a marker key
# is written, and RESTART_DELAY seconds after the fill the member gets the
# signal; it is started again with the same flags and timed from its start to
# the first 200 for the marker. Systems alternate (etcd, cairn, etcd, ...).
rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
if [[ -n "$RESTART_KEYS" ]]; then
	for rep in $(seq 1 "$RESTART_REPS"); do
		for sig in $RESTART_SIGNALS; do
			for sys in $SYSTEMS; do
				name=${sys}r
				client=$((BASE + 12))
				peer=$((BASE + 13))
				data=$OUT/$name-$sig-$rep.data
				DATA_DIRS+=("$data")
				rm -rf "$data"
				CURL[$name]=http://127.0.0.1:$client
				args=(--name "$name" --data-dir "$data"
					--listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client"
					--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer"
					--initial-cluster "$name=http://127.0.0.1:$peer" --initial-cluster-state new
					--initial-cluster-token "bench-restart-$$-$sig-$rep")
				if [[ $sys == etcd ]]; then
					start_node "$name" "$OUT/$name.log" etcd "${args[@]}" --enable-v2=true
				else
					# shellcheck disable=SC2086 # extra args are words on purpose
					start_node "$name" "$OUT/$name.log" "$ROOT/bin/cairnd" "${args[@]}" ${CAIRND_EXTRA_ARGS//\{n\}/1}
				fi
				for _ in $(seq 1 300); do
					code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -XPUT "${CURL[$name]}/v2/keys/ready" -d value=1 || true)
					[[ $code == 200 || $code == 201 ]] && break
					sleep 0.1
				done
				[[ $code == 200 || $code == 201 ]] || die "$name does not accept writes; see $OUT/$name.log"
				log "$sys: filling one member with $RESTART_KEYS keys (SIG$sig restart, run $rep)"
				"$BENCH" put --label "$sys" --target "$sys" --endpoints "${CURL[$name]}" --value-size "$VALUE_SIZE" \
					--json --progress=false --key-prefix /burst --key-order sequential --total "$RESTART_KEYS" \
					--key-count "$RESTART_KEYS" --clients "$LOAD_CLIENTS" >"$OUT/restart-fill.json"
				jq -c --arg m "restart_fill_s_${RESTART_KEYS}_keys" '{label: .label, metric: $m, value: .elapsed_s, unit: "s"}' \
					"$OUT/restart-fill.json" >>"$RESULTS"
				curl -s -o /dev/null --max-time 10 -XPUT "${CURL[$name]}/v2/keys/burst-done" -d value=1 ||
					die "$sys: cannot write the marker"
				metric "$sys" "restart_rss_after_fill_${RESTART_KEYS}_keys" "$(mib "$(rss_kib "${PID[$name]}")")" MiB
				sleep "$RESTART_DELAY"
				pid=${PID[$name]}
				t0=$(date +%s.%N)
				kill -"$sig" "$pid"
				wait "$pid" 2>/dev/null || true
				t1=$(date +%s.%N)
				PID[$name]=""
				[[ $sig == TERM ]] && metric "$sys" "restart_sigterm_stop_s" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" s
				metric "$sys" "restart_data_dir_${RESTART_KEYS}_keys" "$(du -sm "$data" | cut -f1)" MB
				# shellcheck disable=SC2086 # ARGS holds the original command line
				start_node "$name" "$OUT/$name.log" ${ARGS[$name]}
				query=""
				[[ $sys == cairn ]] && query=consistency=serializable
				secs=$(wait_serving "${CURL[$name]}" /burst-done "$query" 600) || die "$name did not serve after SIG$sig"
				metric "$sys" "restart_sig${sig,,}_to_serving_${RESTART_KEYS}_keys" "$secs" s
				metric "$sys" "restart_sig${sig,,}_rss_at_serving" "$(mib "$(rss_kib "${PID[$name]}")")" MiB
				sleep 5
				metric "$sys" "restart_sig${sig,,}_rss_5s_later" "$(mib "$(rss_kib "${PID[$name]}")")" MiB
				stop_node "$name"
				[[ "${KEEP_DATA:-0}" == 1 ]] || rm -rf "$data"
			done
		done
	done
fi

# ---- report ----
{
	echo
	echo "== $(date -u '+%F %T UTC'), $(nproc) cores, $(etcd --version | sed -n 1p)"
	echo "== workloads: $WORKLOADS; clients: $CLIENTS; $REPS runs each alternating; duration $DURATION, warmup $WARMUP; $KEY_COUNT keys, ${VALUE_SIZE}-byte values"
	[[ "$TLS" == 1 ]] && echo "== TLS: https:// client and peer URLs, mutual TLS on both ports, default TLS versions and suites"
	"$BENCH" report --a etcd --b cairn "$RESULTS"
} | tee "$OUT/report.txt"
