#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run them.
#
#   bash fuzz/run.sh --check [TARGET...]       what CI runs: one verdict per tree
#   bash fuzz/run.sh [SECONDS] [TARGET...]     explore: random seed, SECONDS each
#                                              (default 60, every target)
#
# --check replays every committed input of fuzz/corpus/TARGET once, then
# explores from that corpus with a fixed seed and a fixed number of runs
# (the table below; FUZZ_SEED and FUZZ_RUNS override both for every
# target). The targets fix their clock and token ids, run without address
# space randomisation and, as root, with their scratch files at one path in
# a private tmpfs, so repeated runs in one checkout give the same verdict
# and the same coverage figures, whatever the machine's load. (A checkout
# at another path or another environment may print other figures.) Without root the scratch path differs between runs
# (a temporary directory) and the script says so.
#
# Exploring uses a random seed and a time budget: it finds what the fixed
# run cannot, and may fail on a tree --check passes. To turn a finding into
# a regression test: copy the input libFuzzer saved (crash-*, leak-*,
# timeout-*; FUZZ_KEEP=DIR keeps them) to fuzz/corpus/TARGET/ under a name
# that says what it is, reproduce with
#     BUILD/fuzz/fuzz_TARGET fuzz/corpus/TARGET/NAME
# fix the code (or the harness, when its invariant was wrong), and commit
# both: --check replays it from then on.
#
#   FUZZ_BUILD=DIR   build directory (default: build-fuzz in the repository)
#   FUZZ_KEEP=DIR    keep the grown corpora, logs and any crash in DIR
#
# Exit status: 0 when every target ran clean, 1 when any crashed, leaked,
# hit a sanitizer report, broke an invariant or timed out; 2 on a build or
# usage error. New corpus entries go to a temporary directory, never into
# the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(token link config keyfile args pam pam_faults etcd)
# --check: runs per target, about 20-30 s each on an idle 2-core machine
# (about 3 minutes in all; several times that when it is busy).
declare -A check_runs=([token]=250000 [link]=200000 [config]=250000 [keyfile]=500000
	[args]=500000 [pam]=30000 [pam_faults]=30000 [etcd]=100000)
check_seed=${FUZZ_SEED:-20261101}

mode=explore
seconds=60
if [ "${1:-}" = --check ]; then
	mode=check
	shift
elif [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
	case " ${all_targets[*]} " in
	*" $t "*) ;;
	*) echo "usage: $0 [--check | SECONDS] [TARGET...] (targets: ${all_targets[*]})" >&2; exit 2 ;;
	esac
done

# --check as root: again in a private mount namespace with its own tmpfs
# on /dev/shm, where the scratch path can be the same in every run.
if [ $mode = check ] && [ -z "${FUZZ_PRIVATE_SHM:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -m --propagation private true 2>/dev/null; then
	exec env FUZZ_PRIVATE_SHM=1 unshare -m --propagation private \
		bash -c 'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec bash "$@"' \
		run.sh "$PWD/fuzz/run.sh" --check "${targets[@]}"
fi

build=${FUZZ_BUILD:-build-fuzz}
# -fsanitize=fuzzer-no-link everywhere gives the real pam_sesame.so (which
# fuzz_pam loads through libpam) coverage too; fuzz/meson.build builds its
# own instrumented copy of common/ for the other targets either way.
setup=(-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
	-Dbuildtype=debugoptimized -Dc_args=-fsanitize=fuzzer-no-link)
if [ -f "$build/build.ninja" ]; then
	# A directory set up with another compiler cannot be reconfigured.
	CC=clang meson setup --reconfigure "$build" "${setup[@]}" >/dev/null 2>&1 ||
		CC=clang meson setup --wipe "$build" "${setup[@]}" >/dev/null
else
	CC=clang meson setup "$build" "${setup[@]}" >/dev/null
fi
ninja -C "$build" >/dev/null || { echo "fuzz: build failed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sesame-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The targets' scratch files (store, key, config) go to tmpfs when there
# is one: fdatasync is cheap there.
if [ -n "${FUZZ_PRIVATE_SHM:-}" ]; then
	export FUZZ_SCRATCH=/dev/shm/sesame-fuzz
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	scratch=$(mktemp -d /dev/shm/sesame-fuzz.XXXXXX)
	trap 'rm -rf "$work" "$scratch"' EXIT
	export TMPDIR=$scratch
	[ $mode = explore ] ||
		echo "fuzz: not root: scratch files at a temporary path; coverage figures may vary"
fi

# UBSan reports are fatal; leaks are checked after every input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=report_objects=1

dict_for() {
	case $1 in
	token | link | pam | pam_faults) echo fuzz/dict/token.dict ;;
	config | args) echo fuzz/dict/config.dict ;;
	keyfile) echo fuzz/dict/keyfile.dict ;;
	esac
}

max_len_for() {
	case $1 in
	token | link) echo 4096 ;;
	pam | pam_faults) echo 1200 ;;
	*) echo 8192 ;;
	esac
}

# --check runs each target with address space randomisation off: libFuzzer
# files some comparisons it saw under hashes of code addresses, and with
# the addresses changing from run to run, so did the mutations it tried
# (the same seed gave fuzz_token 1259 features once and 1220 the next).
norandom=()
if [ $mode = check ]; then
	if setarch -R true 2>/dev/null; then
		norandom=(setarch -R)
	else
		echo "fuzz: setarch -R is not allowed here: coverage figures may vary between runs"
	fi
fi

# run_fuzzer TARGET LOG ARGS...: one libFuzzer process, scratch made fresh.
run_fuzzer() {
	local t=$1 log=$2
	shift 2
	if [ -n "${FUZZ_SCRATCH:-}" ]; then
		rm -rf "$FUZZ_SCRATCH"
		mkdir -m 700 "$FUZZ_SCRATCH"
	fi
	local dict=()
	# A target without a dictionary (etcd's answers) runs without -dict=.
	[ -z "$(dict_for "$t")" ] || dict=(-dict="$(dict_for "$t")")
	"${norandom[@]}" "$build/fuzz/fuzz_$t" -rss_limit_mb=2048 -max_len="$(max_len_for "$t")" \
		"${dict[@]}" -artifact_prefix="$work/artifacts-$t/" "$@" >"$log" 2>&1
}

report_failure() {
	echo "fuzz_$1 FAILED ($2); last lines of its log:" >&2
	tail -n 40 "$3" >&2
	ls -l "$work/artifacts-$1" >&2
}

# Every committed input once: a regression input fails here by name.
replay() {
	local t=$1 n
	n=$(find "fuzz/corpus/$t" -type f | wc -l)
	if run_fuzzer "$t" "$work/replay-$t" -runs=0 -timeout=60 "fuzz/corpus/$t"; then
		echo "== fuzz_$t: replayed $n committed inputs: ok"
	else
		report_failure "$t" "replaying fuzz/corpus/$t" "$work/replay-$t"
		return 1
	fi
}

# The committed corpus, copied in name order: libFuzzer reads a directory
# in the order the file system lists it, and a tmpfs lists files in the
# order they were made.
copy_corpus() {
	local f
	mkdir -p "$2"
	while IFS= read -r f; do
		cp "$f" "$2/"
	done < <(find "$1" -type f | LC_ALL=C sort)
}

# The "#N DONE cov: C ft: F corp: U/S" line, as "cov=C ft=F corpus=U".
final_figures() {
	grep -E '^#[0-9]+[[:space:]]+DONE ' "$1" | tail -n 1 |
		sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/runs=\1 cov=\2 ft=\3 corpus=\4/'
}

explore() {
	local t=$1 corpus=$work/corpus-$t start=$SECONDS what
	local args=(-print_final_stats=1 -reload=0)
	copy_corpus "fuzz/corpus/$t" "$corpus"
	if [ $mode = check ]; then
		what="seed $check_seed, ${FUZZ_RUNS:-${check_runs[$t]}} runs"
		args+=(-seed="$check_seed" -runs="${FUZZ_RUNS:-${check_runs[$t]}}" -timeout=60)
	else
		what="${seconds}s, random seed"
		args+=(-max_total_time="$seconds" -timeout=10)
	fi
	if run_fuzzer "$t" "$work/log-$t" "${args[@]}" "$corpus"; then
		echo "== fuzz_$t: $what: $(final_figures "$work/log-$t"): ok ($((SECONDS - start)) s)"
	else
		report_failure "$t" "exploring" "$work/log-$t"
		return 1
	fi
}

failed=()
for t in "${targets[@]}"; do
	mkdir -p "$work/artifacts-$t"
	if [ $mode = check ]; then
		replay "$t" || { failed+=("$t"); continue; }
	fi
	explore "$t" || failed+=("$t")
done

if [ -n "${FUZZ_KEEP:-}" ]; then
	mkdir -p "$FUZZ_KEEP"
	cp -r "$work"/. "$FUZZ_KEEP"/
	echo "fuzz: corpora, logs and artifacts kept in $FUZZ_KEEP"
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
if [ $mode = check ]; then
	echo "fuzz: all ${#targets[@]} targets clean (corpus replayed, seed $check_seed, fixed runs)"
else
	echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each, clean"
fi
