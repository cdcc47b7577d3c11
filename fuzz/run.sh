#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for
# SECONDS seconds on a copy of its committed seed corpus.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]     (default 60, every target)
#
#   FUZZ_BUILD=DIR   build directory (default /tmp/sesame-fuzz-build)
#   FUZZ_KEEP=DIR    keep the grown corpora and any crash in DIR
#
# Exit status: 0 when every target ran clean, 1 when any crashed, leaked,
# hit a sanitizer report, broke an invariant or timed out; 2 on a build or
# usage error. New corpus entries go to a temporary directory, never into
# the repository. Total time: about SECONDS x 7 plus the build.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
all_targets=(token link config keyfile args pam etcd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

build=${FUZZ_BUILD:-/tmp/sesame-fuzz-build}
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
# The targets' scratch files (store, key, config) live here too; tmpfs
# when there is one keeps fdatasync cheap.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	scratch=$(mktemp -d /dev/shm/sesame-fuzz.XXXXXX)
	trap 'rm -rf "$work" "$scratch"' EXIT
else
	scratch=$work
fi

# UBSan reports are fatal; leaks are checked after every input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=report_objects=1

dict_for() {
	case $1 in
	token | link | pam) echo fuzz/dict/token.dict ;;
	config | args) echo fuzz/dict/config.dict ;;
	keyfile) echo fuzz/dict/keyfile.dict ;;
	esac
}

max_len_for() {
	case $1 in
	token | link) echo 4096 ;;
	pam) echo 1200 ;;
	*) echo 8192 ;;
	esac
}

failed=()
for t in "${targets[@]}"; do
	exe=$build/fuzz/fuzz_$t
	if [ ! -x "$exe" ]; then
		echo "fuzz: no target fuzz_$t (have: ${all_targets[*]})" >&2
		exit 2
	fi
	corpus=$work/corpus-$t
	artifacts=$work/artifacts-$t
	mkdir -p "$corpus" "$artifacts"
	cp fuzz/corpus/"$t"/* "$corpus"/
	echo "== fuzz_$t: ${seconds}s"
	if TMPDIR=$scratch "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len_for "$t")" -dict="$(dict_for "$t")" -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$corpus" >"$work/log-$t" 2>&1; then
		grep -E '^stat::number_of_executed_units|^Done|^INFO: -max_total_time' "$work/log-$t" | tail -n 2 || true
	else
		echo "fuzz_$t FAILED; last lines of its log:" >&2
		tail -n 40 "$work/log-$t" >&2
		ls -l "$artifacts" >&2
		failed+=("$t")
	fi
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
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each, clean"
