# Shared set-up for the sesame-mint Bats suite (cli.bats).
#
# Every test runs under nss_wrapper with fake users, groups and shadow
# entries, a fake host name (testhost), and its own config, key file and
# store in a private directory. Nothing in /etc is read or written and no
# root is needed; the suite passes as root too.
#
# meson passes SESAME_MINT (the built CLI). Optional, for the one test that
# redeems a token through the module: PAM_SESAME and SESAME_PAM_DRIVER.

# shellcheck source-path=SCRIPTDIR source=shared_helpers.bash
source "${BASH_SOURCE[0]%/*}/shared_helpers.bash"

: "${SESAME_MINT:?SESAME_MINT must name the built sesame-mint}"

# Exit codes, checked as numbers throughout: 0 ok, 1 token invalid or
# minting refused, 2 usage, config or system error.

# What a token looks like: prefix and 56 Crockford base32 characters.
# shellcheck disable=SC2034 # used by cli.bats
TOKEN_RE='^SSM1[0-9A-HJKMNP-TV-Z]{56}$'

# python3 that any user can run (a pyenv shim under /root is not).
cli_python() {
	local p
	for p in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3 2>/dev/null)"; do
		if [ -n "$p" ] && [ -x "$p" ] && "$p" -c '' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Once per file (setup_file): find the tools; tests skip when one is missing.
cli_suite_setup() {
	NSS_WRAPPER_LIB=$(find_lib nss_wrapper libnss_wrapper.so) || NSS_WRAPPER_LIB=
	# nss_wrapper has no getspnam_r, which sesame uses: the shim answers
	# it from nss_wrapper's getspnam (tests/e2e/getspnam_r_shim.c).
	[ -z "$NSS_WRAPPER_LIB" ] || NSS_WRAPPER_LIB=$NSS_WRAPPER_LIB:${SESAME_SHADOW_SHIM:?}
	SAN_PRELOAD=$(sanitizer_preload "$SESAME_MINT")
	PYTHON=$(cli_python) || PYTHON=
	export NSS_WRAPPER_LIB SAN_PRELOAD PYTHON
}

# Fake accounts: alice, bob, carol (a member of group sesame through the
# group's member list, not her primary group) and root.
cli_write_accounts() {
	fake_accounts "$T"
	echo 'carol:x:1503:1503:Carol:/home/carol:/bin/sh' >>"$T/passwd"
	printf 'carol:x:1503:
sesame:x:1600:carol
' >>"$T/group"
	# shellcheck disable=SC2016 # a made-up hash, not an expansion
	echo 'carol:$y$j9T$carolsalt$carolhashcarolhashcarolhashcarol:19000:0:99999:7:::' \
		>>"$T/shadow"
	cut -d: -f2 "$T/shadow" >>"$T/secrets"
}

# cli_conf FILE [LINE...]: a config with this test's key file and store,
# plus LINEs, mode 0600. Prints nothing.
cli_conf() {
	local file=$1
	shift
	{
		printf 'key_file = %s\nstate_dir = %s\n' "$T/key" "$T/state"
		if [ "$#" -gt 0 ]; then
			printf '%s\n' "$@"
		fi
	} >"$file"
	chmod 0600 "$file"
}

cli_test_setup() {
	[ -n "${NSS_WRAPPER_LIB:-}" ] || skip "libnss_wrapper.so not found"
	[ -n "${PYTHON:-}" ] || skip "python3 not found"
	T=$BATS_TEST_TMPDIR/w
	mkdir -m 0700 "$T"
	mkdir -m 0700 "$T/state"
	: >"$T/secrets"
	CONF=$T/sesame.conf
	cli_write_accounts
	cli_conf "$CONF"
	export T CONF
	export NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
	export NSS_WRAPPER_SHADOW=$T/shadow NSS_WRAPPER_HOSTNAME=testhost
	# A safety net: a run without -c reads this, never /etc.
	export SESAME_CONF=$CONF
	sm 0 -c "$CONF" --keygen
}

# cli_set_hash USER HASH: change USER's shadow hash (remembering it as a
# secret that must never show up on stderr).
cli_set_hash() {
	local user=$1 hash=$2
	printf '%s\n' "$hash" >>"$T/secrets"
	awk -F: -v OFS=: -v u="$user" -v h="$hash" '$1 == u { $2 = h } { print }' \
		"$T/shadow" >"$T/shadow.new"
	mv "$T/shadow.new" "$T/shadow"
}

# Everything that must never reach stderr: tokens seen so far, shadow
# hashes, and the key material of every key file in the test directory.
cli_secrets() {
	local k
	grep -v '^$' "$T/secrets" || true
	for k in "$T"/key*; do
		[ -f "$k" ] || continue
		grep -v '^#' "$k" 2>/dev/null | awk 'NF == 2 { print $2 }' || true
	done
}

cli_remember_tokens() {
	printf '%s\n' "$@" | grep -oE 'SSM1[0-9A-HJKMNP-TV-Z]{56}' >>"$T/secrets" || true
	grep -oE 'SSM1[0-9A-HJKMNP-TV-Z]{56}' "$T/stdout" >>"$T/secrets" || true
}

cli_check_stderr_has_no_secret() {
	cli_secrets >"$T/secrets.all"
	if [ -s "$T/secrets.all" ] && grep -qF -f "$T/secrets.all" "$T/stderr"; then
		echo "a secret (token, shadow hash or key) reached stderr:" >&2
		cat "$T/stderr" >&2
		return 1
	fi
	if grep -aqE 'Sanitizer|runtime error:' "$T/stderr"; then
		cat "$T/stderr" >&2
		return 1
	fi
}

# sm RC [ARG...]: run sesame-mint under nss_wrapper (stdin passes through)
# and require exit status RC. Sets status, output (stdout) and stderr; the
# raw streams stay in $T/stdout and $T/stderr. Whatever the outcome, stderr
# must not hold a token, a shadow hash or a key.
sm() {
	local want=$1
	shift
	status=0
	LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB" "$SESAME_MINT" "$@" \
		>"$T/stdout" 2>"$T/stderr" || status=$?
	output=$(cat "$T/stdout")
	stderr=$(cat "$T/stderr")
	cli_remember_tokens "$@"
	if [ "$status" != "$want" ]; then
		printf 'sesame-mint %s\nexpected exit %s, got %s\n--- stdout\n%s\n--- stderr\n%s\n' \
			"$*" "$want" "$status" "$output" "$stderr" >&2
		return 1
	fi
	cli_check_stderr_has_no_secret
}

# mint [ARG...] USER: mint with $CONF, expect success; TOK is the line.
mint() {
	sm 0 -c "$CONF" "$@"
	# shellcheck disable=SC2034 # used by cli.bats
	TOK=$output
}

# lines FILE: number of lines in FILE.
lines() {
	wc -l <"$1" | tr -d ' '
}

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# stdout_has TEXT / stderr_has TEXT: a fixed string in the last run's stream.
stdout_has() {
	grep -qF -- "$1" "$T/stdout" || fail "stdout lacks '$1':" "$output"
}

stderr_has() {
	grep -qF -- "$1" "$T/stderr" || fail "stderr lacks '$1':" "$stderr"
}

# stderr_line TEXT...: stderr is exactly one "sesame-mint: " line holding
# every TEXT (the file or argument at fault).
stderr_line() {
	local text
	[ "$(lines "$T/stderr")" = 1 ] || fail "expected one line on stderr, got:" "$stderr"
	[[ $stderr == "sesame-mint: "* ]] || fail "stderr does not start 'sesame-mint: ':" "$stderr"
	for text in "$@"; do
		stderr_has "$text"
	done
}

# error_line TEXT...: stderr_line, and nothing (no token) on stdout.
error_line() {
	stderr_line "$@"
	[ ! -s "$T/stdout" ] || fail "expected nothing on stdout, got:" "$output"
}

# usage_error TEXT: a "sesame-mint: TEXT" line says why (getopt may have
# said what it did not understand before it), the usage follows, stdout is
# empty.
usage_error() {
	grep -qxF -- "sesame-mint: $1" "$T/stderr" ||
		fail "expected a line 'sesame-mint: $1' on stderr, got:" "$stderr"
	grep -q '^usage: sesame-mint' "$T/stderr" || fail "no usage on stderr:" "$stderr"
	[ ! -s "$T/stdout" ] || fail "expected nothing on stdout, got:" "$output"
}

# status_is TEXT: the inspection's last line.
status_is() {
	local last
	last=$(tail -n 1 "$T/stdout")
	[ "$last" = "status:   $1" ] || fail "expected 'status:   $1', got:" "$output"
}

# inspect RC REASON [OPTION...] TOKEN: --inspect with $CONF, exit RC,
# status REASON ("valid" or "invalid: why"), and nothing on stderr.
inspect() {
	local want=$1 reason=$2
	shift 2
	sm "$want" -c "$CONF" "${@:1:$#-1}" --inspect "${@: -1}"
	status_is "$reason"
	[ ! -s "$T/stderr" ] || fail "expected nothing on stderr, got:" "$stderr"
}

# json_check EXPR...: each python expression, over d = the JSON object on
# stdout, must be true.
json_check() {
	"$PYTHON" - "$T/stdout" "$@" <<-'END'
	import json, re, sys, time
	with open(sys.argv[1]) as f:
	    text = f.read()
	assert text.count("\n") == 1 and text.endswith("\n"), "not one line: %r" % text
	d = json.loads(text)
	for expr in sys.argv[2:]:
	    if not eval(expr, {"re": re, "time": time}, {"d": d}):
	        sys.exit("false: %s\nin %s" % (expr, text))
	END
}

# mode FILE: octal permission bits.
mode() {
	stat -c %a "$1"
}

# store_record_use TOKEN: append a "use" record for TOKEN to the store the
# way a redemption does, following the format documented in
# common/store_format.h (a 32-byte file header when the file is new; a
# 28-byte record: length, type 1, uid, id, expiry, FNV-1a 32). This stands
# in for the module so "used up" can be checked without it.
store_record_use() {
	sm 0 -c "$CONF" --json --inspect "$1"
	"$PYTHON" - "$T/stdout" "$T/state" <<-'END'
	import json, os, struct, sys
	with open(sys.argv[1]) as f:
	    d = json.load(f)
	def fnv1a32(b):
	    h = 2166136261
	    for c in b:
	        h = ((h ^ c) * 16777619) & 0xffffffff
	    return h
	uses = os.path.join(sys.argv[2], "uses")
	if not os.path.isdir(uses):
	    os.mkdir(uses)
	    os.chmod(uses, 0o700)
	header = b"SSMS" + bytes([2, 1, 0, 0]) + bytes(20)
	header += struct.pack("<I", fnv1a32(header))
	rec = struct.pack("<HBBI6sHq", 28, 1, 0, d["uid"], bytes.fromhex(d["id"]), 0, d["expires"])
	rec += struct.pack("<I", fnv1a32(rec))
	fd = os.open(os.path.join(uses, d["id"][:3]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
	os.fchmod(fd, 0o600)
	if os.fstat(fd).st_size == 0:
	    os.write(fd, header)
	os.write(fd, rec)
	os.close(fd)
	END
}

# A wrong service, a wrong host and a changed password are named from 8-bit
# keyed hints in the token (under the old and the new hint scheme), so about
# one random token in 128 reads as "bad signature" instead. A test that
# expects one of those reasons calls this first, and bats runs it again with
# fresh tokens, up to 5 more times: a wrong diagnosis still fails every try.
retry_on_hint_collision() {
	BATS_TEST_RETRIES=5
}
