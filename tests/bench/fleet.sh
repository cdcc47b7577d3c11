#!/usr/bin/env bash
# The fleet store's benchmark: a one-time login through the module with
# store = etcd, beside store = file and beside its floor (pam_permit plus
# one etcd transaction from a minimal client that connects afresh but
# holds an auth token), in one run against a three-member TLS cluster
# that this script starts (tests/fleet/cluster.sh) with etcd's default
# bcrypt cost. The login is measured through `sesame-etcd --serve` (the
# recommended deployment; as root only, since the daemon serves root)
# and with a helper started per login. Also TCP connect, TLS handshake
# and authenticate on their own; the helper process's cost; logins per
# second with concurrent redeemers; and, at the end, one login per
# failure of the cluster.
# Prints the tables and writes them to BUILDDIR/bench/fleet.md.
#
#   tests/bench/fleet.sh [-o REPORT.md] BUILDDIR
#
# -o also puts the tables into REPORT.md (docs/performance.md) between
# its "fleet benchmark" markers. BUILDDIR: debugoptimized or release, no
# sanitizer. Where other clusters may start on the machine, run it in a
# network namespace of its own (unshare -n, loopback up): the members'
# ports are picked free but taken only when they start.
#
# Needs etcd and etcdctl (etcd-server, etcd-client), openssl, curl,
# python3, libnss-wrapper. Exits 77 (meson: skipped) without them.
#
# Environment: BENCH_REPS (3) repetitions, interleaved; BENCH_WORKDIR
# (a fresh directory under /var/tmp: etcd's write-ahead log must be on
# the disk being measured); BENCH_KEEP=1 keeps it; BENCH_FLEET_RECORDS
# (20000) records for the "after many records" state; BENCH_FLEET_BCRYPT
# (10, etcd's default); BENCH_FLEET_CONC ("8 32") concurrent redeemers,
# BENCH_FLEET_CONC_NOTOKEN ("2 8") the same when every login authenticates;
# BENCH_FLEET_QUICK=1 a tenth of the rounds, for a trial.
set -euo pipefail
. "$(dirname "$0")/benchlib.sh"

usage() {
	echo "usage: $0 [-o REPORT.md] BUILDDIR" >&2
	exit 2
}

REPORT=''
while getopts o: opt; do
	case $opt in
	o) REPORT=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REPS=${BENCH_REPS:-3}
RECORDS=${BENCH_FLEET_RECORDS:-20000}
BCRYPT=${BENCH_FLEET_BCRYPT:-10}
CONC=${BENCH_FLEET_CONC:-8 32}
CONC_NOTOKEN=${BENCH_FLEET_CONC_NOTOKEN:-2 8}
# Logins in each throughput run, shared by its redeemers.
CONC_LOGINS=320 CONC_NOTOKEN_LOGINS=96
# etcd's 2 GiB default quota (the tests' cluster has 4 MiB).
QUOTA=2147483648

# Rounds per repetition (a tenth with BENCH_FLEET_QUICK=1, for a trial).
WARMUP=10
R_FLOOR=200 R_FILE=200 R_ETCD=150 R_NOTOKEN=40 R_AUTH=30 R_SESSION=100 R_SPAWN=100
if [ "${BENCH_FLEET_QUICK:-0}" = 1 ]; then
	R_FLOOR=20 R_FILE=20 R_ETCD=15 R_NOTOKEN=4 R_AUTH=3 R_SESSION=10 R_SPAWN=10
	CONC_LOGINS=64 CONC_NOTOKEN_LOGINS=16
fi

# ---------------------------------------------------------------- set-up

check_tools() {
	local missing=() t
	for t in etcd:etcd-server etcdctl:etcd-client openssl:openssl curl:curl python3:python3; do
		command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
	done
	NSS_WRAPPER_LIB=$(find_lib libnss_wrapper.so) || missing+=(libnss-wrapper)
	[ ${#missing[@]} -eq 0 ] || skip "install ${missing[*]}"
}

build() {
	ninja -C "$BUILD" tests/bench-fleet tests/bench-pam tests/bench-crypto tests/bench-store \
		tests/e2e_getspnam_r_shim.so cli/sesame-mint pam/pam_sesame.so \
		helper/sesame-etcd >/dev/null || die "build failed in $BUILD"
	NSS_WRAPPER_LIB=$NSS_WRAPPER_LIB:$BUILD/tests/e2e_getspnam_r_shim.so
	BF=$BUILD/tests/bench-fleet BP=$BUILD/tests/bench-pam BC=$BUILD/tests/bench-crypto
	BS=$BUILD/tests/bench-store
	MINT=$BUILD/cli/sesame-mint MODULE=$BUILD/pam/pam_sesame.so
	HELPER=$BUILD/helper/sesame-etcd
	check_buildtype
}

# The cluster's verifier settings: "key = value" for sesame.conf, and
# "key=value" for bench-fleet.
write_settings() {
	local c=$W/cluster
	grep '^etcd_[a-z_]* = ' "$c/verifier.conf" >"$W/etcd.conf.part"
	echo "etcd_helper = $HELPER" >>"$W/etcd.conf.part"
	# A helper per session, even where a daemon's socket is installed.
	echo "etcd_helper_socket = none" >>"$W/etcd.conf.part"
	sed 's/ = /=/' "$W/etcd.conf.part" >"$W/settings"
	# Through the daemon only: no helper to fall back on, so a daemon
	# that is not there fails the run instead of measuring the helper.
	grep -v '^etcd_helper' "$W/settings" >"$W/settings-daemon"
	printf 'etcd_helper=/nonexistent/sesame-etcd\netcd_helper_socket=%s\n' "$DSOCK" \
		>>"$W/settings-daemon"
}

write_services() {
	local s
	install -d -m 0700 "$W/pam.d" "$W/state-file" "$W/state-etcd" "$W/state-probe" \
		"$W/state-daemon"
	echo "auth required pam_deny.so" >"$W/pam.d/other"
	echo "auth required pam_permit.so" >"$W/pam.d/permit"
	printf 'key_file = %s\nstate_dir = %s\n' "$W/key" "$W/state-file" >"$W/sesame-file.conf"
	{
		printf 'key_file = %s\nstate_dir = %s\nstore = etcd\n' "$W/key" "$W/state-etcd"
		cat "$W/etcd.conf.part"
	} >"$W/sesame-etcd.conf"
	{
		printf 'key_file = %s\nstate_dir = %s\nstore = etcd\n' "$W/key" "$W/state-daemon"
		sed 's/=/ = /' "$W/settings-daemon"
	} >"$W/sesame-daemon.conf"
	for s in file etcd daemon; do
		chmod 0644 "$W/sesame-$s.conf"
		echo "auth required $MODULE conf=$W/sesame-$s.conf" >"$W/pam.d/sesame-$s"
	done
}

start_cluster() {
	SESAME_TEST_ETCD_BCRYPT_COST=$BCRYPT SESAME_TEST_ETCD_QUOTA=$QUOTA \
		"$SRC/tests/fleet/cluster.sh" start "$W/cluster" "$$" >"$W/cluster.log" 2>&1 ||
		die "the cluster did not start (see $W/cluster.log)"
	MEMBER_PIDS=$(cat "$W"/cluster/m?.pid | tr "\n" " ")
}

# sesame-etcd --serve on a socket of this run's (sun_path is short: /tmp).
start_daemon() {
	local i
	DAEMON=0 DSOCK=/nonexistent/etcd.sock
	[ "$(id -u)" = 0 ] || return 0
	DDIR=$(mktemp -d /tmp/sesame-bench-d.XXXXXX)
	DSOCK=$DDIR/run/etcd.sock
	"$HELPER" --serve --socket "$DSOCK" --workers 4 </dev/null >"$W/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 100); do
		[ -S "$DSOCK" ] && DAEMON=1 && return 0
		sleep 0.05
	done
	die "sesame-etcd --serve did not start (see $W/daemon.log)"
}

setup() {
	W=${BENCH_WORKDIR:-$(mktemp -d /var/tmp/sesame-fleet-bench.XXXXXX)}
	mkdir -p "$W"
	chmod 0700 "$W"
	RES=$W/results SAVED=$BUILD/bench
	rm -rf "$RES"
	mkdir -p "$RES" "$SAVED"
	write_accounts
	start_cluster
	start_daemon
	write_settings
	write_services
	nss "$MINT" -c "$W/sesame-file.conf" --keygen >/dev/null 2>&1 ||
		die "sesame-mint --keygen failed"
	ETCD_STORE=1
	if ! onetime_trial; then
		ETCD_STORE=0
		echo "fleet.sh: store = etcd does not redeem a token here: its figures are left out" >&2
	fi
}

cleanup() {
	local status=$1
	[ -n "${W:-}" ] || return 0
	if [ -n "${DAEMON_PID:-}" ]; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
		rm -rf "$DDIR"
	fi
	[ ! -d "$W/cluster" ] || "$SRC/tests/fleet/cluster.sh" stop "$W/cluster" || true
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
		echo "work directory kept: $W" >&2
	elif [ -z "${BENCH_WORKDIR:-}" ]; then
		rm -rf "$W"
	fi
}

# tokens FILE N: N fresh one-time tokens for alice, valid an hour.
tokens() {
	nss "$BC" tokens "$W/key" alice "$2" 3600 >"$1" || die "cannot mint tokens"
}

# One login through store = etcd, and the same token refused after it:
# the backend is there and counts.
onetime_trial() {
	tokens "$W/trial" 1
	nss "$BP" -w 0 "$W/pam.d" sesame-etcd alice 1 "@$W/trial" >/dev/null 2>"$W/trial.log" &&
		! nss "$BP" -w 0 "$W/pam.d" sesame-etcd alice 1 "@$W/trial" >/dev/null 2>>"$W/trial.log"
}

# ---------------------------------------------------------- cluster gauges

# The members' CPU time, in clock ticks (utime + stime).
members_ticks() {
	local pid sum=0
	for pid in $MEMBER_PIDS; do
		sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
	done
	echo "$sum"
}

# The daemon's workers' CPU time, in clock ticks (a worker's own
# counters: its parent gets them only when it exits).
daemon_ticks() {
	local pid sum=0
	for pid in $(pgrep -P "$DAEMON_PID"); do
		sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
	done
	echo "$sum"
}

# metric NAME: its sum over the members' /metrics (every label).
metric() {
	local c=$W/cluster port sum=0 v
	for port in $(cat "$c"/m?.port); do
		v=$(curl -s --max-time 5 --cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key" \
			"https://127.0.0.1:$port/metrics" |
			awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }')
		sum=$((sum + v))
	done
	echo "$sum"
}

# db_size: the largest member's database size in bytes (dbSize).
db_size() {
	"$SRC/tests/fleet/cluster.sh" root "$W/cluster" endpoint status -w json |
		python3 -c 'import json,sys; print(max(s["Status"]["dbSize"] for s in json.load(sys.stdin)))'
}

# ------------------------------------------------------------ measurements

# pam_ms NAME SERVICE ROUNDS [bench-pam options]: one-time logins, ms.
pam_ms() {
	local name=$1 service=$2 rounds=$3 out
	shift 3
	tokens "$W/tokens" $((WARMUP + rounds))
	out=$(BENCH_PAM_LOG=$W/pam.log nss "$BP" -w "$WARMUP" "$@" "$W/pam.d" "$service" alice \
		"$rounds" "@$W/tokens") || die "bench-pam $service failed: $(tail -n 2 "$W/pam.log")"
	record "${name}_p50" "$(calc "$(field p50_us "$out") / 1000")"
	record "${name}_p90" "$(calc "$(field p90_us "$out") / 1000")"
	record "${name}_p99" "$(calc "$(field p99_us "$out") / 1000")"
	record "${name}_cpu" "$(calc "$(field cpu_us_per_auth "$out") / 1000")"
}

# fleet_run NAME FIELDS ARGS...: bench-fleet ARGS; NAME_FIELD recorded for
# each of FIELDS.
fleet_run() {
	local name=$1 fields=$2 out f
	shift 2
	out=$("$BF" "$@") || die "bench-fleet $* failed"
	for f in $fields; do
		record "${name}_$f" "$(field "$f" "$out")"
	done
}

# The figures of one repetition in the given cluster STATE.
bench_rep() {
	local st=$1
	fleet_run "floor_$st" "floor_p50 floor_p90 floor_p99 permit_p50 txn_p50 txn_p90 txn_p99 \
connect_p50 connect_p90 tls_p50 tls_p90 tls_p99" floor "$W/settings" "$W/pam.d" "$R_FLOOR"
	# A fresh file store each time, as sesame-mint leaves it.
	rm -rf "$W/state-file"
	mkdir -m 0700 "$W/state-file"
	"$BS" prepare "$W/state-file" || die "bench-store prepare failed"
	pam_ms "file_$st" sesame-file "$R_FILE"
	if [ "$ETCD_STORE" = 1 ] && [ "$DAEMON" = 1 ]; then
		local d0
		d0=$(daemon_ticks)
		pam_ms "daemon_$st" sesame-daemon "$R_ETCD"
		record "daemon_${st}_dcpu" \
			"$(calc "($(daemon_ticks) - $d0) * 1000 / $(getconf CLK_TCK) / ($R_ETCD + $WARMUP)")"
		ratio "ratio_$st" "$(last "daemon_${st}_p50")" "$(last "floor_${st}_floor_p50")"
		ratio "ratio_${st}_p90" "$(last "daemon_${st}_p90")" "$(last "floor_${st}_floor_p90")"
	fi
	if [ "$ETCD_STORE" = 1 ]; then
		pam_ms "etcd_$st" sesame-etcd "$R_ETCD"
		pam_ms "notoken_$st" sesame-etcd "$R_NOTOKEN" -u "$W/state-etcd/etcd-token"
		ratio "ratio_exec_$st" "$(last "etcd_${st}_p50")" "$(last "floor_${st}_floor_p50")"
	fi
	fleet_run "helper_$st" "session_p50 session_p90 session_p99 cpu_ms" \
		session "$W/settings" "$W/state-probe" "$R_SESSION" helper
	[ "$DAEMON" = 0 ] || fleet_run "dsession_$st" "session_p50 session_p90 session_p99 cpu_ms" \
		session "$W/settings-daemon" "$W/state-probe" "$R_SESSION" daemon
	fleet_run "inproc_$st" "session_p50 session_p90 cpu_ms connect_p50 tls_p50" \
		session "$W/settings" "$W/state-probe" "$R_SESSION" in-process
	fleet_run "spawn_$st" "spawn_p50 spawn_p90 cpu_ms" spawn "$W/settings" "$W/state-probe" "$R_SPAWN"
	fleet_run "auth_$st" "auth_p50 auth_p90 auth_p99" auth "$W/settings" "$R_AUTH"
}

# last NAME: the sample just recorded.
last() {
	tail -n 1 "$RES/$1"
}

# Requests and raft proposals the cluster handles per login, and the
# members' CPU per login: from a run of 50 logins.
bench_per_login() {
	local st=$1 n=50 g0 p0 c0
	[ "$ETCD_STORE" = 1 ] || return 0
	g0=$(metric grpc_server_handled_total) p0=$(metric etcd_server_proposals_committed_total)
	c0=$(members_ticks)
	pam_ms "gauge_$st" sesame-etcd "$n"
	record "grpc_per_login_$st" "$(calc "($(metric grpc_server_handled_total) - $g0) / ($n + $WARMUP)")"
	# Every member commits every proposal: a third of the sum.
	record "proposals_per_login_$st" \
		"$(calc "($(metric etcd_server_proposals_committed_total) - $p0) / 3 / ($n + $WARMUP)")"
	record "member_cpu_per_login_$st" \
		"$(calc "($(members_ticks) - $c0) * 1000 / $(getconf CLK_TCK) / ($n + $WARMUP)")"
}

# redeemer I: PAM service sesame-rI, a host of its own: its own state_dir
# (and so its own cached auth token), which one login (untimed) fills.
redeemer() {
	local i=$1
	if [ ! -e "$W/pam.d/sesame-r$i" ]; then
		install -d -m 0700 "$W/state-r$i"
		sed "s|^state_dir = .*|state_dir = $W/state-r$i|" "$W/sesame-etcd.conf" \
			>"$W/sesame-r$i.conf"
		chmod 0644 "$W/sesame-r$i.conf"
		echo "auth required $MODULE conf=$W/sesame-r$i.conf" >"$W/pam.d/sesame-r$i"
	fi
	[ ! -e "$W/state-r$i/etcd-token" ] || return 0
	tokens "$W/warm-$i" 1
	BENCH_PAM_LOG=$W/pam.log nss "$BP" -w 0 "$W/pam.d" "sesame-r$i" alice 1 "@$W/warm-$i" \
		>/dev/null || die "redeemer $i: the warm-up login failed: $(tail -n 1 "$W/pam.log")"
}

# concurrent NAME N LOGINS [notoken]: N processes, each a host of its
# own, redeem LOGINS one-time tokens between them; logins per second
# that succeeded, and how many were refused (their log lines kept in
# $W/NAME.log: under load, the store's time budget can run out).
# With notoken every login authenticates.
concurrent() {
	local name=$1 n=$2 each i t0 t1 c0 failed=0 refused=0 out service
	local -a opts
	each=$((($3 + n - 1) / n))
	for ((i = 0; i < n; i++)); do
		[ "${4:-}" = daemon ] || redeemer "$i"
		tokens "$W/conc-$i" "$each"
	done
	rm -f "$W/$name.log" "$W"/conc-*.out
	c0=$(members_ticks)
	t0=$(now_ns)
	for ((i = 0; i < n; i++)); do
		opts=(-k) service=sesame-r$i
		[ "${4:-}" != notoken ] || opts+=(-u "$W/state-r$i/etcd-token")
		# One host's daemon serving its concurrent logins.
		[ "${4:-}" != daemon ] || service=sesame-daemon
		BENCH_PAM_LOG=$W/$name.log nss "$BP" -w 0 "${opts[@]}" "$W/pam.d" "$service" alice \
			"$each" "@$W/conc-$i" >"$W/conc-$i.out" 2>>"$W/conc.log" &
	done
	for ((i = 0; i < n; i++)); do
		wait -n || failed=$((failed + 1))
	done
	t1=$(now_ns)
	[ "$failed" = 0 ] || die "$failed of $n concurrent redeemers failed (see $W/conc.log)"
	for ((i = 0; i < n; i++)); do
		out=$(cat "$W/conc-$i.out")
		refused=$((refused + $(field failures "$out")))
	done
	record "$name" "$(calc "($n * $each - $refused) * 1e9 / ($t1 - $t0)")"
	record "${name}_refused" "$refused"
	record "${name}_logins" $((n * each))
	record "${name}_member_cpu" \
		"$(calc "($(members_ticks) - $c0) * 1000 / $(getconf CLK_TCK) / ($n * $each)")"
	[ "$refused" = 0 ] || why_refused "$name"
}

# why_refused NAME: the commonest reason in the log of run NAME.
why_refused() {
	grep -o 'detail="[^"]*"' "$W/$1.log" |
		sed 's/^detail="//; s/"$//; s/https:[^ ]*: //; s/[0-9][0-9]*/N/g' |
		sort | uniq -c | sort -rn | head -n 2 |
		awk '{ n = $1; $1 = ""; printf "%s%d × \"%s\"", (NR > 1 ? "; " : ""), n, substr($0, 2) }' \
		>"$RES/$1_why"
}

bench_concurrent() {
	local st=$1 n
	[ "$ETCD_STORE" = 1 ] || return 0
	for n in $CONC; do
		concurrent "conc_${st}_$n" "$n" "$CONC_LOGINS"
		[ "$DAEMON" = 0 ] || concurrent "conc_${st}_daemon$n" "$n" "$CONC_LOGINS" daemon
	done
	# Every login authenticates (a fleet of hosts each logging in once).
	for n in $CONC_NOTOKEN; do
		concurrent "conc_${st}_notoken$n" "$n" "$CONC_NOTOKEN_LOGINS" notoken
	done
}

fill_cluster() {
	local c=$W/cluster
	sed 's/ = /=/' "$c/issuer.conf" >"$W/settings-issuer"
	echo "etcd_helper=$HELPER" >>"$W/settings-issuer"
	install -d -m 0700 "$W/state-issuer"
	# Use records as logins leave them, and ledger records as minting
	# does, in equal numbers.
	"$BF" fill "$W/settings" "$W/state-probe" /sesame/uses/ $((RECORDS / 2)) 200 >/dev/null ||
		die "cannot fill the cluster"
	"$BF" fill "$W/settings-issuer" "$W/state-issuer" /sesame/ledger/ $((RECORDS / 2)) 400 \
		>/dev/null || die "cannot fill the cluster"
}

# partition_login CASE: one login through store = etcd now, through the
# daemon (when it runs) and with a helper of its own; its time and
# outcome, and the detail its log line gave, into the partitions table.
partition_login() {
	local t0 ms rc detail service
	for service in sesame-daemon sesame-etcd; do
		[ "$DAEMON" = 1 ] || [ "$service" = sesame-etcd ] || continue
		tokens "$W/part-token" 1
		: >"$W/part.log"
		rc=0
		t0=$(now_ns)
		BENCH_PAM_LOG=$W/part.log nss "$BP" -w 0 "$W/pam.d" "$service" alice 1 \
			"@$W/part-token" >/dev/null 2>&1 || rc=$?
		ms=$((($(now_ns) - t0) / 1000000))
		detail=$(grep -o 'result=.*' "$W/part.log" | tail -n 1 | sed 's/https:[^ ]*: /ENDPOINT: /g')
		printf '| %s | %s | %s | %s | `%s` |\n' "$1" \
			"$([ "$service" = sesame-daemon ] && echo daemon || echo "helper per login")" "$ms" \
			"$([ "$rc" = 0 ] && echo success || echo refused)" "$detail" >>"$RES/partitions"
	done
}

# healthy: wait until a login goes through again (after SIGCONT).
healthy() {
	local i
	for i in $(seq 50); do
		tokens "$W/part-token" 1
		nss "$BP" -w 0 "$W/pam.d" sesame-etcd alice 1 "@$W/part-token" >/dev/null 2>&1 ||
			{ sleep 0.2 && continue; }
		[ "$DAEMON" = 1 ] || return 0
		tokens "$W/part-token" 1
		nss "$BP" -w 0 "$W/pam.d" sesame-daemon alice 1 "@$W/part-token" >/dev/null 2>&1 &&
			return 0
		sleep 0.2
	done
	die "the cluster did not come back"
}

# The cluster's failures, one login each, at the end of the run (the
# last case kills it). SIGSTOP: a member that accepts TCP and never
# answers, as a black-holed or hung one does.
bench_partitions() {
	local m1 m2 m3
	[ "$ETCD_STORE" = 1 ] || return 0
	local leader role
	read -r m1 m2 m3 <<<"$MEMBER_PIDS"
	: >"$RES/partitions"
	partition_login "all members up"
	leader=$("$SRC/tests/fleet/cluster.sh" leader "$W/cluster") || leader=unknown
	role="a follower"
	[ "$leader" != m1 ] || role="the leader"
	kill -STOP "$m1"
	partition_login "the first endpoint stopped (it was $role)"
	kill -CONT "$m1"
	healthy
	if [ "$leader" = m2 ] || [ "$leader" = m3 ]; then
		kill -STOP "$(cat "$W/cluster/$leader.pid")"
		partition_login "the leader stopped (second or third endpoint)"
		kill -CONT "$(cat "$W/cluster/$leader.pid")"
		healthy
	fi
	kill -STOP "$m2" "$m3"
	partition_login "only the first endpoint's member running (no quorum)"
	kill -CONT "$m2" "$m3"
	healthy
	kill -STOP "$m1" "$m2" "$m3"
	partition_login "every member stopped"
	kill -CONT "$m1" "$m2" "$m3"
	healthy
	kill -KILL "$m1" "$m2" "$m3"
	partition_login "every member killed (connections refused)"
}

# ---------------------------------------------------------------- report

machine() {
	machine_head ", shared with the cluster's three members and any other work" "etcd's data"
	echo "| etcd | $(etcd --version | sed -n 's/^etcd Version: //p'), 3 members on 127.0.0.1, TLS (client and peer certificates), RBAC, JWT tokens, \`--bcrypt-cost $BCRYPT\` |"
	echo "| libcurl | $(curl --version | head -n 1 | cut -d' ' -f1-2) |"
	machine_tail
}

# q3 NAME DIGITS: "p50 / p90 / p99" medians over the repetitions.
q3() {
	printf '%s / %s / %s' "$(fmt "$1_p50" "$2")" "$(fmt "$1_p90" "$2")" "$(fmt "$1_p99" "$2")"
}

state_label() {
	case $1 in
	fresh) echo "fresh cluster" ;;
	filled) echo "after $RECORDS records" ;;
	esac
}

# pam_row LABEL NAME: p50 / p90 / p99 and CPU of one-time logins.
pam_row() {
	printf '| %s | %s | %s |\n' "$1" "$(q3 "$2" 2)" "$(fmt "$2_cpu" 2)"
}

tables() {
	local st n
	echo "Each figure: median of $REPS repetitions (min–max in brackets), in ms unless"
	echo "noted. p50 / p90 / p99 are taken within each repetition."
	for st in fresh filled; do
		echo
		echo "#### One-time login, $(state_label "$st") (auth token cached unless noted)"
		echo
		echo "| figure | p50 / p90 / p99 | CPU per login, ms (process + helper) |"
		echo "|---|---|---|"
		if [ "$ETCD_STORE" = 1 ] && [ "$DAEMON" = 1 ]; then
			pam_row "(a) sesame, \`store = etcd\`, through \`sesame-etcd --serve\` (warm connection and token), $R_ETCD logins; CPU: the PAM process only" "daemon_$st"
			printf '| … the daemon'"'"'s CPU per login, ms (its workers, 10 ms ticks) | – | %s |\n' "$(fmt "daemon_${st}_dcpu" 2)"
		elif [ "$ETCD_STORE" = 1 ]; then
			echo "| (a) sesame, \`store = etcd\`, through \`sesame-etcd --serve\` | not measured: not run as root | – |"
		fi
		if [ "$ETCD_STORE" = 1 ]; then
			pam_row "(a2) sesame, \`store = etcd\`, a helper started per login, $R_ETCD logins" "etcd_$st"
			pam_row "(a2') the same, **no cached auth token** (every login authenticates), $R_NOTOKEN logins" "notoken_$st"
		else
			echo "| (a) sesame, \`store = etcd\` | not measured: the backend was not there | – |"
		fi
		pam_row "(b) sesame, \`store = file\` (fresh store), $R_FILE logins" "file_$st"
		printf '| (c) floor: pam_permit + one transaction, fresh TCP + TLS, token held, %s rounds | %s | – |\n' \
			"$R_FLOOR" "$(q3 "floor_${st}_floor" 2)"
		printf '| … of which pam_permit (p50) | %s | – |\n' "$(fmt "floor_${st}_permit_p50" 2)"
		printf '| … of which the transaction | %s | – |\n' "$(q3 "floor_${st}_txn" 2)"
		if [ "$ETCD_STORE" = 1 ] && [ "$DAEMON" = 1 ]; then
			printf '| (d) ratio (a) / (c), on p50 (target ≤ 1.5) | %s | – |\n' "$(fmt "ratio_$st" 2)"
			printf '| (d) ratio (a) / (c), on p90 | %s | – |\n' "$(fmt "ratio_${st}_p90" 2)"
		fi
		if [ "$ETCD_STORE" = 1 ]; then
			printf '| (d2) ratio (a2) / (c), on p50: a helper per login | %s | – |\n' "$(fmt "ratio_exec_$st" 2)"
		fi
		echo
		echo "#### Parts, $(state_label "$st")"
		echo
		echo "| figure | p50 / p90 / p99 or value |"
		echo "|---|---|"
		printf '| (e) TCP connect, fresh connection (CURLINFO_CONNECT_TIME) | %s / %s / – |\n' \
			"$(fmt "floor_${st}_connect_p50" 3)" "$(fmt "floor_${st}_connect_p90" 3)"
		printf '| (e) TLS handshake after it (APPCONNECT − CONNECT) | %s |\n' "$(q3 "floor_${st}_tls" 2)"
		printf '| (e) `/v3/auth/authenticate` alone, kept connection, bcrypt cost %s, %s calls | %s |\n' \
			"$BCRYPT" "$R_AUTH" "$(q3 "auth_${st}_auth" 1)"
		printf '| helper session: start sesame-etcd, count a use, end (token cached) | %s |\n' \
			"$(q3 "helper_${st}_session" 2)"
		printf '| … its CPU, caller + helper, ms per session | %s |\n' "$(fmt "helper_${st}_cpu_ms" 2)"
		[ "$DAEMON" = 0 ] || printf '| the same session through `sesame-etcd --serve` (Unix connect, warm TLS connection) | %s |\n' \
			"$(q3 "dsession_${st}_session" 2)"
		printf '| the same client in-process (libcurl here, no helper) | %s / %s / – |\n' \
			"$(fmt "inproc_${st}_session_p50" 2)" "$(fmt "inproc_${st}_session_p90" 2)"
		printf '| … its CPU, ms per session | %s |\n' "$(fmt "inproc_${st}_cpu_ms" 2)"
		printf '| helper start and end alone, no request | %s / %s / – |\n' \
			"$(fmt "spawn_${st}_spawn_p50" 2)" "$(fmt "spawn_${st}_spawn_p90" 2)"
		printf '| … its CPU, ms | %s |\n' "$(fmt "spawn_${st}_cpu_ms" 2)"
		if [ "$ETCD_STORE" = 1 ]; then
			printf '| etcd requests (gRPC, all members) per login | %s |\n' "$(fmt "grpc_per_login_$st" 2)"
			printf '| raft proposals committed per login | %s |\n' "$(fmt "proposals_per_login_$st" 2)"
			printf '| the three members'"'"' CPU per login, ms | %s |\n' "$(fmt "member_cpu_per_login_$st" 2)"
		fi
	done
	[ "$ETCD_STORE" = 1 ] || return 0
	echo
	echo "#### Failures: one login each, \`etcd_timeout = 2s\` (at the end of the run)"
	echo
	echo "| case | path | login took, ms | result | its log line (from \`result=\`) |"
	echo "|---|---|---|---|---|"
	cat "$RES/partitions"
	echo
	echo "#### (f) Logins per second the cluster sustained"
	echo
	echo "$CONC_LOGINS one-time logins through the module ($CONC_NOTOKEN_LOGINS when every login"
	echo "authenticates), shared by N processes, each a host of its own (its own state_dir and"
	echo "cached token) with a helper per login, or all on one host through its daemon; each token used once;"
	echo "wall time from the first start to the last end; the members'"
	echo "CPU per login over the same run. Everything, cluster included, on the same $(nproc) cores."
	echo
	echo "| redeemers | state | logins/s that succeeded | refused of all (one run) | members' CPU per login, ms |"
	echo "|---|---|---|---|---|"
	for st in fresh filled; do
		for n in $CONC; do
			[ "$DAEMON" = 0 ] || conc_row "$n" "$(state_label "$st"), one host's \`sesame-etcd --serve\` (4 workers)" "conc_${st}_daemon$n"
			conc_row "$n" "$(state_label "$st"), a helper per login, token cached" "conc_${st}_$n"
		done
		for n in $CONC_NOTOKEN; do
			conc_row "$n" "$(state_label "$st"), **no cached token** (each login authenticates)" \
				"conc_${st}_notoken$n"
		done
	done
	for st in fresh filled; do
		for n in $CONC $(printf 'daemon%s ' $CONC) $(printf 'notoken%s ' $CONC_NOTOKEN); do
			[ ! -s "$RES/conc_${st}_${n}_why" ] ||
				printf '\nWhy logins were refused, %s, %s redeemers: %s.\n' "$(state_label "$st")" \
					"${n/notoken/no cached token, }" "$(cat "$RES/conc_${st}_${n}_why")"
		done
	done
}

# conc_row N LABEL NAME
conc_row() {
	printf '| %s | %s | %s | %s of %s | %s |\n' "$1" "$2" "$(fmt "$3" 1)" \
		"$(fmt "$3_refused" 0)" "$(fmt "$3_logins" 0)" "$(fmt "$3_member_cpu" 2)"
}

# splice FILE: the tables between FILE's fleet markers.
splice() {
	python3 - "$1" "$SAVED/fleet.md" <<-'PY'
	import sys
	path, tables = sys.argv[1:]
	begin, end = "<!-- fleet benchmark: begin -->", "<!-- fleet benchmark: end -->"
	text = open(path).read()
	if begin not in text or end not in text:
	    sys.exit(f"{path}: no fleet benchmark markers")
	head, rest = text.split(begin, 1)
	tail = rest.split(end, 1)[1]
	open(path, "w").write(head + begin + "\n" + open(tables).read().strip() + "\n" + end + tail)
	PY
	echo "fleet tables written to $1" >&2
}

# --------------------------------------------------------------------- main

check_tools
build
trap 'cleanup $?' EXIT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
setup
for ((rep = 1; rep <= REPS; rep++)); do
	echo "fresh cluster: repetition $rep of $REPS" >&2
	bench_rep fresh
done
bench_per_login fresh
bench_concurrent fresh
record db_bytes_fresh "$(db_size)"
echo "filling the cluster with $RECORDS records" >&2
fill_cluster
record db_bytes "$(db_size)"
for ((rep = 1; rep <= REPS; rep++)); do
	echo "after $RECORDS records: repetition $rep of $REPS" >&2
	bench_rep filled
done
bench_per_login filled
bench_concurrent filled
echo "failures" >&2
bench_partitions
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_SECONDS=$(($(date +%s) - START))

{
	echo "#### Machine"
	echo
	machine
	echo
	tables
	echo
	echo "Database (the largest member's \`dbSize\`) before the fill: $(fmt db_bytes_fresh 0) bytes;"
	echo "after it: $(fmt db_bytes 0) bytes, so $(calc "($(median db_bytes) - $(median db_bytes_fresh)) / $RECORDS" |
		xargs printf '%.0f') bytes per record (use records of 200 bytes and ledger records of"
	echo "400, on a lease; etcd's own overhead included, history compacted hourly)."
} >"$SAVED/fleet.md"
cat "$SAVED/fleet.md"
[ -z "$REPORT" ] || splice "$REPORT"
