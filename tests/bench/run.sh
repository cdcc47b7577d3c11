#!/usr/bin/env bash
# sesame's benchmarks, side by side with its peers and the physical floor,
# in one run on one machine. Prints a table and writes a report.
#
#   tests/bench/run.sh [-o REPORT.md] [-R] BUILDDIR
#
# BUILDDIR is a configured meson build directory (buildtype
# debugoptimized or release, no sanitizer); the programs are built in it.
# The report goes to BUILDDIR/bench/performance.md unless -o names another
# file (`-o docs/performance.md` refreshes the committed one). The tables
# are also kept in BUILDDIR/bench/; -R only renders the report from them
# again (after editing the prose in tests/bench/report.md.in).
#
# Needs: openssl, oathtool, pamtester, GNU time, libpam-oath,
# libpam-google-authenticator, libpam-wrapper, libnss-wrapper. Exits 77
# (meson: skipped) when one is missing. Nothing outside the work
# directory is touched: accounts come from nss_wrapper, PAM services from
# pam_start_confdir (or pam_wrapper for pamtester), and the store, keys
# and secrets live in the work directory.
#
# Environment: BENCH_REPS (5) repetitions of every figure, interleaved so
# that a noisy neighbour hits all of them alike; BENCH_WORKDIR (a fresh
# directory under /var/tmp; it must be on the filesystem to measure);
# BENCH_SOAK_ROUNDS (100000); BENCH_KEEP=1 keeps the work directory;
# for a quick trial, BENCH_STORE_LEVELS ("10000 100000 1000000": levels
# measured after the fresh, unprepared, after-gc and every-bucket stores;
# the last one is also the "million records" state of section 3) and
# BENCH_GC_RECORDS.
set -euo pipefail
. "$(dirname "$0")/benchlib.sh"

usage() {
	echo "usage: $0 [-o REPORT.md] [-R] BUILDDIR" >&2
	exit 2
}

REPORT='' RENDER_ONLY=0
while getopts o:R opt; do
	case $opt in
	o) REPORT=$OPTARG ;;
	R) RENDER_ONLY=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REPORT=${REPORT:-$BUILD/bench/performance.md}
REPS=${BENCH_REPS:-5}
SOAK_ROUNDS=${BENCH_SOAK_ROUNDS:-100000}
STORE_LEVELS="0 0u gc 4096s ${BENCH_STORE_LEVELS:-10000 100000 1000000}"
TOP=${STORE_LEVELS##* }
# The states a store is in, for one-time redemptions through PAM: fresh
# (made by sesame-mint: every bucket file, no record), after gc (it held
# records that expired and gc dropped them), every bucket holding a record,
# and TOP live records.
STATES="fresh gc prefilled top"
GRACE=86400 # SESAME_STORE_GRACE: records outlive their token by this
STORE_SAMPLES=400
GC_RECORDS=${BENCH_GC_RECORDS:-1000000}
GC_REPS=3

# Rounds per repetition (plus WARMUP untimed rounds each).
WARMUP=50
R_PERMIT=3000 R_REUSABLE=1500 R_ONETIME=600 R_OATH=160 R_TOTP=800 R_GHOTP=160
R_APPEND=400 R_CLI=40 R_PAMTESTER=20
SLICES=4 # the durable-write figures are measured in this many slices, in turns

OATH_HEX=3132333435363738393031323334353637383930 # RFC 4226 test secret
GAUTH_B32=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ          # the same bytes, base32

# ---------------------------------------------------------------- set-up

check_tools() {
	local missing=() t
	for t in openssl:openssl oathtool:oathtool pamtester:pamtester python3:python3; do
		command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
	done
	[ -x /usr/bin/time ] || missing+=(time)
	PAM_OATH=$(find_module pam_oath.so) || missing+=(libpam-oath)
	PAM_GAUTH=$(find_module pam_google_authenticator.so) ||
		missing+=(libpam-google-authenticator)
	PAM_WRAPPER_LIB=$(find_lib libpam_wrapper.so) || missing+=(libpam-wrapper)
	NSS_WRAPPER_LIB=$(find_lib libnss_wrapper.so) || missing+=(libnss-wrapper)
	[ ${#missing[@]} -eq 0 ] || skip "install ${missing[*]}"
}

build() {
	ninja -C "$BUILD" tests/bench-crypto tests/bench-store tests/bench-pam \
		tests/e2e_getspnam_r_shim.so cli/sesame-mint pam/pam_sesame.so >/dev/null ||
		die "build failed in $BUILD"
	# nss_wrapper has no getspnam_r, which sesame reads shadow entries with.
	NSS_WRAPPER_LIB=$NSS_WRAPPER_LIB:$BUILD/tests/e2e_getspnam_r_shim.so
	BC=$BUILD/tests/bench-crypto BS=$BUILD/tests/bench-store BP=$BUILD/tests/bench-pam
	MINT=$BUILD/cli/sesame-mint MODULE=$BUILD/pam/pam_sesame.so
	check_buildtype
}

# pam.d/SERVICE for pam_start_confdir and for pam_wrapper alike.
write_services() {
	local me
	me=$(id -un)
	mkdir -p "$W/pam.d" "$W/gauth-totp" "$W/gauth-hotp"
	echo "auth required pam_deny.so" >"$W/pam.d/other"
	echo "auth required pam_permit.so" >"$W/pam.d/permit"
	echo "auth required $MODULE conf=$CONF" >"$W/pam.d/sesame"
	for s in $STATES; do
		printf 'key_file = %s\nstate_dir = %s\n' "$W/key" "$W/state-$s" >"$W/sesame-$s.conf"
		chmod 0644 "$W/sesame-$s.conf"
		echo "auth required $MODULE conf=$W/sesame-$s.conf" >"$W/pam.d/sesame-$s"
	done
	echo "auth required $PAM_OATH usersfile=$W/users.oath window=20" >"$W/pam.d/oath"
	echo "auth required $PAM_GAUTH secret=$W/gauth-totp/\${USER} user=$me" >"$W/pam.d/gauth-totp"
	echo "auth required $PAM_GAUTH secret=$W/gauth-hotp/\${USER} user=$me" >"$W/pam.d/gauth-hotp"
	# pam_oath: an HOTP account at counter 0; it rewrites this file on
	# every success (lock file, new file, fsync, rename).
	echo "HOTP alice - $OATH_HEX" >"$W/users.oath"
	chmod 0600 "$W/users.oath"
	# Google Authenticator, TOTP without DISALLOW_REUSE: one code serves a
	# whole 30 s step, and the file is only read. HOTP: rewritten each time.
	printf '%s\n" TOTP_AUTH\n' "$GAUTH_B32" >"$W/gauth-totp/alice"
	printf '%s\n" HOTP_COUNTER 1\n" WINDOW_SIZE 20\n' "$GAUTH_B32" >"$W/gauth-hotp/alice"
	chmod 0600 "$W/gauth-totp/alice" "$W/gauth-hotp/alice"
	OATH_NEXT=0 GHOTP_NEXT=1
}

setup() {
	W=${BENCH_WORKDIR:-$(mktemp -d /var/tmp/sesame-bench.XXXXXX)}
	mkdir -p "$W"
	chmod 0700 "$W"
	RES=$W/results
	rm -rf "$RES"
	mkdir -p "$RES" "$(dirname "$REPORT")"
	CONF=$W/sesame.conf
	mkdir -p "$W/state"
	chmod 0700 "$W/state"
	printf 'key_file = %s\nstate_dir = %s\n' "$W/key" "$W/state" >"$CONF"
	printf 'key_file = %s\nstate_dir = %s\n' "$W/key" "$W/gcstore" >"$W/gc.conf"
	chmod 0644 "$CONF" "$W/gc.conf"
	write_accounts
	write_services
	nss "$MINT" -c "$CONF" --keygen >/dev/null 2>&1 || die "sesame-mint --keygen failed"
	REUSABLE=$(nss "$MINT" -c "$CONF" -n 0 -t 2h alice 2>/dev/null | head -n 1)
	[[ $REUSABLE == SSM1* ]] || die "cannot mint a reusable token"
	for s in $STATES; do
		make_store "$W/template-$s" "$s"
	done
}

# The work directory goes, unless asked for or the run failed.
cleanup() {
	local status=$1
	[ -n "${W:-}" ] || return 0
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
		echo "work directory kept: $W" >&2
	elif [ -z "${BENCH_WORKDIR:-}" ]; then
		rm -rf "$W"
	fi
}

# ------------------------------------------------------------ measurements

# 1. HMAC ceiling and verify throughput; 2. mint from the library.
bench_crypto_rep() {
	local line count secs mode out
	line=$(openssl speed -mr -seconds 1 -bytes 64 -hmac sha256 2>&1 | grep '^+R:')
	count=$(cut -d: -f2 <<<"$line")
	secs=$(cut -d: -f4 <<<"$line")
	record ceiling "$(calc "$count / $secs")"
	for mode in tag check parse-check mint; do
		out=$("$BC" "$mode" 1) || die "bench-crypto $mode failed"
		record "$mode" "$(field ops_per_cpu_second "$out")"
	done
	out=$("$BC" compress 1) || die "bench-crypto compress failed"
	record compress_ns "$(field ns_per_compression "$out")"
	record tag_ceiling "$(field tag_ceiling_per_second "$out")"
	TAG_COMPRESSIONS=$(field compressions_per_tag "$out")
	ratio tag_vs_tag_ceiling "$(tail -n 1 "$RES/tag")" "$(tail -n 1 "$RES/tag_ceiling")"
	ratio tag_vs_ceiling "$(tail -n 1 "$RES/tag")" "$(tail -n 1 "$RES/ceiling")"
	ratio check_vs_ceiling "$(tail -n 1 "$RES/check")" "$(tail -n 1 "$RES/ceiling")"
}

# 2. sesame-mint processes: the tokens also feed pamtester below.
bench_cli_rep() {
	local t0 t1 i
	: >"$W/cli-tokens"
	t0=$(now_ns)
	for ((i = 0; i < R_CLI; i++)); do
		nss "$MINT" -c "$CONF" -t 1h alice >>"$W/cli-tokens" 2>/dev/null ||
			die "sesame-mint failed"
	done
	t1=$(now_ns)
	[ "$(grep -c '^SSM1' "$W/cli-tokens")" -eq "$R_CLI" ] || die "sesame-mint printed no token"
	record cli_mint "$(calc "$R_CLI * 1e9 / ($t1 - $t0)")"
}

# pam_run NAME SERVICE ROUNDS REPLY|@FILE: one in-process figure.
pam_run() {
	local out
	out=$(nss "$BP" -w "${PAM_WARMUP:-$WARMUP}" "$W/pam.d" "$2" alice "$3" "$4") ||
		die "bench-pam $2 failed"
	record "$1" "$(field us_per_auth "$out")"
	record "$1_p50" "$(field p50_us "$out")"
}

# last NAME: the sample just recorded.
last() {
	tail -n 1 "$RES/$1"
}

# codes FILE N CMD...: N codes from oathtool into FILE.
hotp_codes() {
	local file=$1 n=$2
	shift 2
	oathtool "$@" -w $((n - 1)) >"$file"
}

# The figures that end in a durable write, one slice of each. The disk is
# what varies most from one second to the next on a shared machine, so
# they take turns in slices, and each sees the disk in the same states.
durable_slice() {
	local n out PAM_WARMUP=10
	out=$("$BS" append "$W/state" $((R_APPEND / SLICES))) || die "bench-store append failed"
	record slice_append "$(field mean_us "$out")"
	record slice_append_p50 "$(field p50_us "$out")"
	n=$((PAM_WARMUP + R_ONETIME / SLICES))
	for s in $STATES; do
		restore_state "$s"
		nss "$BC" tokens "$W/key" alice "$n" 3600 >"$W/onetime" || die "cannot mint tokens"
		pam_run "slice_onetime_$s" "sesame-$s" $((R_ONETIME / SLICES)) "@$W/onetime"
	done
	n=$((PAM_WARMUP + R_OATH / SLICES))
	hotp_codes "$W/oath-codes" "$n" --hotp -c "$OATH_NEXT" "$OATH_HEX"
	OATH_NEXT=$((OATH_NEXT + n))
	pam_run slice_oath oath $((R_OATH / SLICES)) "@$W/oath-codes"
	n=$((PAM_WARMUP + R_GHOTP / SLICES))
	hotp_codes "$W/ghotp-codes" "$n" --hotp -b -c "$GHOTP_NEXT" "$GAUTH_B32"
	GHOTP_NEXT=$((GHOTP_NEXT + n))
	pam_run slice_ghotp gauth-hotp $((R_GHOTP / SLICES)) "@$W/ghotp-codes"
}

# fold NAME: one repetition's figure from its slices (equal rounds: the
# mean of the means; the median of the slices' medians).
fold() {
	local m
	for m in "" _p50; do
		if [ -z "$m" ]; then
			record "$1" "$(awk '{ s += $1 } END { print s / NR }' "$RES/slice_$1")"
		else
			record "$1$m" "$(median "slice_$1$m")"
		fi
		rm -f "$RES/slice_$1$m"
	done
}

# 3. In-process authentications and the durable-write floor.
bench_pam_rep() {
	local m i
	pam_run permit permit "$R_PERMIT" x
	pam_run reusable sesame "$R_REUSABLE" "$REUSABLE"
	pam_run totp gauth-totp "$R_TOTP" "$(oathtool --totp -b "$GAUTH_B32")"
	for ((i = 0; i < SLICES; i++)); do
		durable_slice
	done
	for m in append oath ghotp; do
		fold "$m"
	done
	for s in $STATES; do
		fold "onetime_$s"
	done
	for m in "" _p50; do
		for s in $STATES; do
			ratio "onetime_vs_floor_$s$m" "$(last "onetime_$s$m")" \
				"$(calc "$(last "permit$m") + $(last "append$m")")"
			ratio "oath_vs_onetime_$s$m" "$(last "oath$m")" "$(last "onetime_$s$m")"
		done
		ratio "reusable_vs_permit$m" "$(last "reusable$m")" "$(last "permit$m")"
	done
}

# make_store DIR STATE: a store in STATE: 0u (made by install -d, nobody
# prepared it), 0 or fresh (prepared, no record), gc (100,000 records that
# expired more than the grace ago, then gc), N (N live records, random
# buckets), Ns (N live records spread over the buckets), prefilled (4096s),
# top ($TOP).
make_store() {
	local dir=$1 state=$2
	[ "$state" = fresh ] && state=0
	[ "$state" = prefilled ] && state=4096s
	[ "$state" = top ] && state=$TOP
	rm -rf "$dir"
	mkdir -m 0700 "$dir"
	[ "$state" = 0u ] && return 0
	"$BS" prepare "$dir" || die "bench-store prepare failed"
	case $state in
	0) ;;
	gc)
		"$BS" fill "$dir" 100000 $((-GRACE - 3600)) >/dev/null || die "bench-store fill failed"
		"$BS" gc "$dir" || die "bench-store gc failed"
		;;
	*s) "$BS" fill "$dir" "${state%s}" 7200 spread >/dev/null || die "bench-store fill failed" ;;
	*) "$BS" fill "$dir" "$state" 7200 >/dev/null || die "bench-store fill failed" ;;
	esac
	sync -f "$dir" # no writeback of the fill under the measured fdatasyncs
}

# restore_state STATE: $W/state-STATE as its template left it.
restore_state() {
	rm -rf "$W/state-$1"
	cp -a "$W/template-$1" "$W/state-$1"
	sync -f "$W/state-$1"
}

# 4. Redemption latency against the number of outstanding records.
bench_store_rep() {
	local level dir out records alloc apparent
	for level in $STORE_LEVELS; do
		dir=$W/store-$level
		records=${level%s}
		make_store "$dir" "$level"
		if [ ! -s "$RES/bytes_per_record_$level" ] && [[ $records =~ ^[0-9]+$ ]] &&
			[ "$records" -gt 0 ]; then
			alloc=$(du -sB1 "$dir/uses" | cut -f1)
			apparent=$(du -sB1 --apparent-size "$dir/uses" | cut -f1)
			record "bytes_per_record_$level" "$(calc "$alloc / $records")"
			record "apparent_per_record_$level" "$(calc "$apparent / $records")"
		fi
		out=$("$BS" redeem "$dir" "$STORE_SAMPLES") || die "bench-store redeem $level failed"
		record "redeem_p50_$level" "$(field p50_us "$out")"
		record "redeem_p99_$level" "$(field p99_us "$out")"
		rm -rf "$dir"
	done
	ratio p99_top_vs_0 "$(tail -n 1 "$RES/redeem_p99_$TOP")" "$(tail -n 1 "$RES/redeem_p99_0")"
	ratio p99_top_vs_gc "$(tail -n 1 "$RES/redeem_p99_$TOP")" "$(tail -n 1 "$RES/redeem_p99_gc")"
	ratio p99_top_vs_4096s "$(tail -n 1 "$RES/redeem_p99_$TOP")" \
		"$(tail -n 1 "$RES/redeem_p99_4096s")"
}

# gc_time NAME: time `sesame-mint --gc` on the store in $W/gcstore.
gc_time() {
	local t0 t1
	t0=$(now_ns)
	"$MINT" -c "$W/gc.conf" --gc >/dev/null 2>&1 || die "sesame-mint --gc failed"
	t1=$(now_ns)
	record "$1" "$(calc "($t1 - $t0) / 1e9")"
	rm -rf "$W/gcstore"
}

# 4. --gc of a million expired records (and, once, of the same with
# 100,000 live ones, which makes gc rewrite every bucket).
bench_gc() {
	local i
	for ((i = 0; i < GC_REPS; i++)); do
		rm -rf "$W/gcstore"
		mkdir -m 0700 "$W/gcstore"
		"$BS" fill "$W/gcstore" "$GC_RECORDS" -3600 || die "fill for gc failed"
		sync -f "$W/gcstore"
		gc_time gc_expired
	done
	mkdir -m 0700 "$W/gcstore"
	"$BS" fill "$W/gcstore" "$GC_RECORDS" -3600 || die "fill for gc failed"
	"$BS" fill "$W/gcstore" $((GC_RECORDS / 10)) 3600 || die "fill for gc failed"
	sync -f "$W/gcstore"
	gc_time gc_mixed
}

# pamtester_once SERVICE INPUT [PREFIX...]: one authentication. pam_wrapper
# sets up in /tmp/pam.X, X one of a few dozen letters, so it fails now and
# then when other pam_wrapper users run in parallel; such a failure happens
# before any module runs, and a retry with the same one-time token is
# sound (a token already used would fail again: a real failure).
pamtester_once() {
	local service=$1 input=$2
	shift 2
	for _ in 1 2 3; do
		# PREFIX (GNU time) runs outside pam_wrapper, which sets itself
		# up in every process it is preloaded into.
		printf '%s\n' "$input" | "$@" env LD_PRELOAD="$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB" \
			PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$W/pam.d" PAM_WRAPPER_DEBUGLEVEL=0 \
			PAM_WRAPPER_DISABLE_DEEPBIND=1 pamtester "$service" alice authenticate \
			>/dev/null 2>>"$W/pamtester.log" && return 0
	done
	die "pamtester $service failed (see $W/pamtester.log)"
}

# pamtester_loop SERVICE N TOKENS-FILE|-: wall milliseconds per process.
pamtester_loop() {
	local service=$1 n=$2 tokens=$3 t0 t1 i input=x
	t0=$(now_ns)
	for ((i = 1; i <= n; i++)); do
		[ "$tokens" = - ] || input=$(sed -n "${i}p" "$tokens")
		pamtester_once "$service" "$input"
	done
	t1=$(now_ns)
	calc "($t1 - $t0) / 1e6 / $n"
}

# peak_rss SERVICE INPUT: KiB, from GNU time.
peak_rss() {
	pamtester_once "$1" "$2" /usr/bin/time -f '%M' -o "$W/time.out"
	cat "$W/time.out"
}

# 5. Whole processes: pamtester under pam_wrapper + nss_wrapper.
bench_process_rep() {
	record pt_permit_ms "$(pamtester_loop permit "$R_PAMTESTER" -)"
	record pt_sesame_ms "$(pamtester_loop sesame "$R_PAMTESTER" "$W/cli-tokens")"
	record pt_permit_rss "$(peak_rss permit x)"
	record pt_sesame_rss "$(peak_rss sesame "$(sed -n "$((R_PAMTESTER + 1))p" "$W/cli-tokens")")"
	ratio pt_ms_ratio "$(tail -n 1 "$RES/pt_sesame_ms")" "$(tail -n 1 "$RES/pt_permit_ms")"
}

# 6. One long-running process.
bench_soak() {
	local out
	out=$(nss "$BP" -s -w 1000 "$W/pam.d" sesame alice "$SOAK_ROUNDS" "$REUSABLE") ||
		die "soak failed"
	SOAK_US=$(field us_per_auth "$out")
	SOAK_WARM_RSS=$(field warm_rss_kib "$out") SOAK_END_RSS=$(field end_rss_kib "$out")
	SOAK_WARM_FDS=$(field warm_fds "$out") SOAK_END_FDS=$(field end_fds "$out")
}

# ---------------------------------------------------------------- report

# row2 LABEL NAME DIGITS: the mean (NAME) and median (NAME_p50) columns.
row2() {
	printf '| %s | %s | %s |\n' "$1" "$(fmt "$2" "$3")" "$(fmt "$2_p50" "$3")"
}

# goal TEXT NAME OP TARGET: met or missed, judged on the median.
goal() {
	local m verdict
	m=$(median "$2")
	if awk "BEGIN { exit !($m $3 $4) }"; then
		verdict="met"
	elif [ "$3" = "<=" ]; then
		verdict="**missed** by $(calc "($m / $4 - 1) * 100" | xargs printf '%.0f')%"
	else
		verdict="**missed**: $(calc "$m / $4 * 100" | xargs printf '%.0f')% of the target"
	fi
	printf '| %s | %s %s | %s | %s |\n' "$1" "$3" "$4" "$(fmt "$2" 2)" "$verdict"
}

machine() {
	machine_head "" "the store"
	echo "| OpenSSL | $(openssl version | cut -d' ' -f1-2) |"
	echo "| libpam | $(dpkg-query -W -f '${Version}' libpam0g 2>/dev/null || echo '?') |"
	echo "| libpam-oath | $(dpkg-query -W -f '${Version}' libpam-oath 2>/dev/null || echo '?') |"
	echo "| libpam-google-authenticator | $(dpkg-query -W -f '${Version}' libpam-google-authenticator 2>/dev/null || echo '?') |"
	machine_tail
}

tables() {
	echo "Each figure: median of $REPS repetitions (min–max in brackets), unless noted."
	echo
	echo "### 1. Verify throughput (one core, CPU time)"
	echo
	echo "| figure | unit | median (min–max) |"
	echo "|---|---|---|"
	row "HMAC-SHA256 ceiling: \`openssl speed -hmac sha256 -bytes 64\`" "HMAC/s" ceiling 0
	row "tag check only (\`sesame_tag_ok\`)" "tokens/s" tag 0
	row "full check without the store (\`sesame_check\`)" "tokens/s" check 0
	row "parse the 60-character text, then \`sesame_check\`" "tokens/s" parse-check 0
	row "one SHA-256 compression (64 KiB hashed: 1,025 blocks)" "ns" compress_ns 2
	row "tag check ceiling: 1 / ($TAG_COMPRESSIONS compressions a check x one compression)" "tokens/s" tag_ceiling 0
	row "tag check / tag check ceiling" "ratio" tag_vs_tag_ceiling 2
	row "tag check / \`openssl speed\` (keyed once, 3 compressions: not a tag check's work)" "ratio" tag_vs_ceiling 2
	row "\`sesame_check\` / \`openssl speed\`" "ratio" check_vs_ceiling 2
	echo
	echo "### 2. Mint throughput"
	echo
	echo "| figure | unit | median (min–max) |"
	echo "|---|---|---|"
	row "library: \`sesame_mint\` + \`sesame_token_format\`" "tokens/s" mint 0
	row "CLI: \`sesame-mint -t 1h alice\` processes, under nss_wrapper ($R_CLI a repetition)" "processes/s" cli_mint 1
	echo
	echo "### 3. In-process authentications (pam_start_confdir + pam_authenticate + pam_end)"
	echo
	echo "Mean: the run's wall time over its rounds. p50: the median round. Ratios on both."
	echo
	echo "| figure | mean µs/auth | p50 µs/auth |"
	echo "|---|---|---|"
	row2 "pam_permit (the PAM floor), $R_PERMIT rounds" permit 1
	row2 "durable-write floor: 28-byte pwrite (a use record) + fdatasync, $R_APPEND appends in $SLICES slices" append 1
	row2 "sesame, reusable token (\`-n 0\`: no store write), $R_REUSABLE rounds" reusable 1
	row2 "sesame one-time, **fresh store** (made by sesame-mint, no record), $R_ONETIME rounds in $SLICES slices" onetime_fresh 1
	row2 "sesame one-time, **after gc** (100,000 expired records dropped), $R_ONETIME rounds in $SLICES slices" onetime_gc 1
	row2 "sesame one-time, a record in every bucket, $R_ONETIME rounds in $SLICES slices" onetime_prefilled 1
	row2 "sesame one-time, $TOP live records, $R_ONETIME rounds in $SLICES slices" onetime_top 1
	row2 "pam_oath, HOTP (usersfile rewritten each time), $R_OATH rounds in $SLICES slices" oath 1
	row2 "pam_google_authenticator, TOTP (reuse allowed: file only read), $R_TOTP rounds" totp 1
	row2 "pam_google_authenticator, HOTP (file rewritten each time), $R_GHOTP rounds in $SLICES slices" ghotp 1
	local s
	for s in $STATES; do
		row2 "ratio: one-time sesame, $(state_label "$s") / (pam_permit + durable append)" "onetime_vs_floor_$s" 2
	done
	for s in $STATES; do
		row2 "ratio: pam_oath / one-time sesame, $(state_label "$s")" "oath_vs_onetime_$s" 2
	done
	row2 "ratio: reusable sesame / pam_permit" reusable_vs_permit 2
	echo
	echo "### 4. Store scaling (one-time redemption: sesame_store_open + redeem + close)"
	echo
	echo "$STORE_SAMPLES redemptions of fresh tokens per repetition, in a store freshly made"
	echo "in the given state and synced."
	echo
	echo "| store | p50 µs | p99 µs | disk bytes per record (allocated; file size) |"
	echo "|---|---|---|---|"
	local level label
	for level in $STORE_LEVELS; do
		case $level in
		0) label="**fresh**: made by sesame-mint, every bucket file, no record" ;;
		0u) label="made by \`install -d\`, not prepared (no bucket file)" ;;
		gc) label="**after gc**: 100,000 expired records dropped" ;;
		4096s) label="4,096 records, one in every bucket" ;;
		*) label="$level live records" ;;
		esac
		if ! [[ ${level%s} =~ ^[0-9]+$ ]] || [ "${level%s}" = 0 ]; then
			printf '| %s | %s | %s | – |\n' "$label" "$(fmt "redeem_p50_$level" 0)" \
				"$(fmt "redeem_p99_$level" 0)"
		else
			printf '| %s | %s | %s | %s; %s |\n' "$label" "$(fmt "redeem_p50_$level" 0)" \
				"$(fmt "redeem_p99_$level" 0)" "$(fmt "bytes_per_record_$level" 1)" \
				"$(fmt "apparent_per_record_$level" 1)"
		fi
	done
	echo
	echo "| figure | unit | median (min–max) |"
	echo "|---|---|---|"
	row "p99 at $TOP / p99 in a fresh store" "ratio" p99_top_vs_0 2
	row "p99 at $TOP / p99 after gc" "ratio" p99_top_vs_gc 2
	row "p99 at $TOP / p99 with a record in every bucket" "ratio" p99_top_vs_4096s 2
	row "\`sesame-mint --gc\`, $GC_RECORDS expired records ($GC_REPS repetitions)" "s" gc_expired 2
	row "\`sesame-mint --gc\`, $GC_RECORDS expired + $((GC_RECORDS / 10)) live records (1 run)" "s" gc_mixed 2
	echo
	echo "### 5. Whole process: pamtester under pam_wrapper + nss_wrapper"
	echo
	echo "| figure | unit | median (min–max) |"
	echo "|---|---|---|"
	row "pamtester + pam_permit, wall time ($R_PAMTESTER a repetition)" "ms" pt_permit_ms 2
	row "pamtester + sesame (one-time token), wall time" "ms" pt_sesame_ms 2
	row "sesame / pam_permit, wall time" "ratio" pt_ms_ratio 2
	row "pamtester + pam_permit, peak RSS" "KiB" pt_permit_rss 0
	row "pamtester + sesame, peak RSS" "KiB" pt_sesame_rss 0
	echo
	echo "### 6. Long-running process ($SOAK_ROUNDS authentications, reusable token, one run)"
	echo
	echo "| after | RSS KiB | open fds |"
	echo "|---|---|---|"
	echo "| 1,000 (warm) | $SOAK_WARM_RSS | $SOAK_WARM_FDS |"
	echo "| $SOAK_ROUNDS | $SOAK_END_RSS | $SOAK_END_FDS |"
	echo
	echo "Mean over the run: $SOAK_US µs per authentication."
}

# state_label STATE: how the report names a store state.
state_label() {
	case $1 in
	fresh) echo "fresh store" ;;
	gc) echo "after gc" ;;
	prefilled) echo "every bucket holding a record" ;;
	top) echo "$TOP records" ;;
	esac
}

goals() {
	local soak_verdict=met
	if [ "$SOAK_END_FDS" != "$SOAK_WARM_FDS" ] || [ $((SOAK_END_RSS - SOAK_WARM_RSS)) -gt 512 ]; then
		soak_verdict="**missed**"
	fi
	echo "| goal | target | measured: median (min–max) | verdict |"
	echo "|---|---|---|---|"
	goal "tag check ≥ 0.8 of its ceiling (compressions x measured cost)" tag_vs_tag_ceiling ">=" 0.8
	local st
	for st in fresh gc top; do
		goal "one-time sesame, $(state_label "$st"), ≤ 1.5x (pam_permit + append) (means)" \
			"onetime_vs_floor_$st" "<=" 1.5
		goal "the same, on medians" "onetime_vs_floor_${st}_p50" "<=" 1.5
	done
	for st in $STATES; do
		goal "one-time sesame faster than pam_oath, $(state_label "$st") (means)" "oath_vs_onetime_$st" ">" 1
	done
	goal "reusable sesame ≤ 1.3x pam_permit (means)" reusable_vs_permit "<=" 1.3
	goal "the same, on medians" reusable_vs_permit_p50 "<=" 1.3
	goal "p99 at $TOP records within 1.5x of p99 in a fresh store" p99_top_vs_0 "<=" 1.5
	goal "p99 at $TOP records within 1.5x of p99 after gc" p99_top_vs_gc "<=" 1.5
	printf '| no growth over %s authentications | fds equal, RSS +≤512 KiB | fds %s → %s, RSS %s → %s KiB | %s |\n' \
		"$SOAK_ROUNDS" "$SOAK_WARM_FDS" "$SOAK_END_FDS" "$SOAK_WARM_RSS" "$SOAK_END_RSS" "$soak_verdict"
}

# render: the report from the saved tables and the prose around them in
# tests/bench/report.md.in.
render() {
	python3 - "$SRC/tests/bench/report.md.in" "$SAVED" "$REPORT" <<-'PY'
	import os, sys
	template, saved, out = sys.argv[1:]
	text = open(template).read()
	for key in ("machine", "tables", "goals", "reps"):
	    text = text.replace("@" + key.upper() + "@", open(f"{saved}/{key}.md" if key != "reps" else f"{saved}/reps").read().strip())
	# The fleet's tables come from tests/bench/fleet.sh: this build's last
	# run, else what the report already holds between the markers.
	begin, end = "<!-- fleet benchmark: begin -->", "<!-- fleet benchmark: end -->"
	fleet = "Not measured: run `tests/bench/fleet.sh -o REPORT BUILDDIR`."
	if os.path.exists(f"{saved}/fleet.md"):
	    fleet = open(f"{saved}/fleet.md").read().strip()
	elif os.path.exists(out) and begin in open(out).read():
	    fleet = open(out).read().split(begin, 1)[1].split(end, 1)[0].strip()
	text = text.replace("@FLEET@", fleet)
	open(out, "w").write(text)
	PY
	echo "report written to $REPORT" >&2
}

# --------------------------------------------------------------------- main

SAVED=$BUILD/bench
mkdir -p "$SAVED"
if [ "$RENDER_ONLY" = 1 ]; then
	render
	exit 0
fi
check_tools
build
trap 'cleanup $?' EXIT
setup
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
for ((rep = 1; rep <= REPS; rep++)); do
	echo "repetition $rep of $REPS" >&2
	bench_crypto_rep
	bench_cli_rep
	bench_pam_rep
	bench_store_rep
	bench_process_rep
done
echo "gc" >&2
bench_gc
echo "soak: $SOAK_ROUNDS authentications" >&2
bench_soak
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_SECONDS=$(($(date +%s) - START))

tables >"$SAVED/tables.md"
goals >"$SAVED/goals.md"
machine >"$SAVED/machine.md"
echo "$REPS" >"$SAVED/reps"
cat "$SAVED/tables.md"
printf '\n## Goals\n\n'
cat "$SAVED/goals.md"
render
