# Shared set-up for the module's Bats suites (pam.bats, pam_mail.bats,
# pam_soak.bats, security/hostile_input.bats).
#
# Everything runs under pam_wrapper + nss_wrapper: service files in a temp
# pam.d naming the module by absolute path, fake users and shadow entries,
# a fake host name, and a config, key file and store in the test's own
# directory. Nothing in /etc is read or written; root is not needed.
#
# meson passes: PAM_SESAME (the built module), SESAME_MINT (the CLI),
# SESAME_PAM_DRIVER (tests/pam/driver.c), SESAME_PAM_STANDIN
# (tests/pam/pam_unix_standin.c) and, for the soak suite, SESAME_PAM_SOAK.

# shellcheck source-path=SCRIPTDIR source=shared_helpers.bash
source "${BASH_SOURCE[0]%/*}/shared_helpers.bash"

: "${PAM_SESAME:?PAM_SESAME must name the built pam_sesame.so}"
: "${SESAME_MINT:?SESAME_MINT must name the built sesame-mint}"
: "${SESAME_PAM_DRIVER:?SESAME_PAM_DRIVER must name tests/pam/driver}"

pam_suite_setup() {
	PAM_WRAPPER_LIB=$(find_lib pam_wrapper libpam_wrapper.so) ||
		skip "libpam_wrapper.so not found"
	NSS_WRAPPER_LIB=$(find_lib nss_wrapper libnss_wrapper.so) ||
		skip "libnss_wrapper.so not found"
	SAN_PRELOAD=$(sanitizer_preload "$SESAME_PAM_DRIVER")
	export PAM_WRAPPER_LIB NSS_WRAPPER_LIB SAN_PRELOAD
}

# Fake accounts: alice and bob (staff is alice's supplementary group),
# root, and nobody to own things in the "wrong owner" cases.
pam_write_accounts() {
	fake_accounts "$T"
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >>"$T/passwd"
	printf 'staff:x:1600:alice\nnogroup:x:65534:\n' >>"$T/group"
	echo 'nobody:*:19000:0:99999:7:::' >>"$T/shadow"
	# Passwords for the pam_unix stand-in.
	printf 'alice:alice-password\nbob:bob-password\n' >"$T/passdb"
}

# A service file: pam_service NAME "LINE" ...
pam_service() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$T/pam.d/$name"
}

pam_test_setup() {
	pam_suite_setup
	T=$BATS_TEST_TMPDIR
	CONF=$T/sesame.conf
	LOG=$T/log
	mkdir -p "$T/pam.d"
	mkdir -m 0700 "$T/state"
	pam_write_accounts
	printf 'key_file = %s\nstate_dir = %s\n' "$T/key" "$T/state" >"$CONF"
	chmod 0644 "$CONF"
	: >"$LOG"
	export T CONF LOG
	export NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
	export NSS_WRAPPER_SHADOW=$T/shadow NSS_WRAPPER_HOSTNAME=testhost.example
	export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/pam.d
	# Level 2 sends pam_syslog lines to stderr (and so to $LOG); level 3
	# would add pam_wrapper's own traces, which print PAM_AUTHTOK.
	export PAM_WRAPPER_DEBUGLEVEL=2
	export PAM_WRAPPER_DISABLE_DEEPBIND=1
	# Every service not named explicitly falls through to this.
	pam_service other "auth required pam_deny.so"
	pam_service login "auth required $PAM_SESAME conf=$CONF debug"
	mint --keygen >/dev/null
}

# In sanitizer builds a report (leak, overflow, UB) goes to stderr, which
# is $LOG for PAM applications: any report fails the test.
pam_test_teardown() {
	if [ -n "${LOG:-}" ] && grep -a -q -E 'Sanitizer|runtime error:' "$LOG" "$T/mint.log" 2>/dev/null; then
		grep -a -E -A20 'Sanitizer|runtime error:' "$LOG" "$T/mint.log" >&2
		return 1
	fi
}

# The CLI sees the fake accounts through nss_wrapper only; pam_wrapper is
# preloaded just for PAM applications, since it sets itself up (a temp
# directory with a copy of libpam) in every process it is loaded into.
mint() {
	LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB" "$SESAME_MINT" -c "$CONF" "$@" 2>>"$T/mint.log"
}

pam_wrapped() {
	LD_PRELOAD="$SAN_PRELOAD$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB" "$@"
}

# The module's one line for the latest attempt.
last_result() {
	grep -a 'sesame: user=' "$LOG" | tail -n 1
}

# expect_result 'result=refused reason="used up"'
expect_result() {
	local line
	line=$(last_result)
	if [[ $line != *"$1"* ]]; then
		echo "expected '$1' in the last log line: ${line:-<none>}" >&2
		return 1
	fi
}

# For reasons named from an 8-bit keyed hint (wrong service, wrong host,
# password changed): one time in 256 the new value's hint matches the old
# by chance and the core can only say "bad signature". Either is a refusal.
expect_hinted_reason() {
	local line
	line=$(last_result)
	if [[ $line != *"reason=\"$1\""* && $line != *'reason="bad signature"'* ]]; then
		echo "expected reason \"$1\" (or \"bad signature\"): ${line:-<none>}" >&2
		return 1
	fi
}

# Fail (with a message) when a fixed string, or a regex, is in a file.
# `! grep` would not do: bash's errexit ignores negated commands.
absent() {
	if grep -a -q -F -e "$1" "$2"; then
		echo "'$1' must not appear in $2" >&2
		return 1
	fi
}

absent_re() {
	if grep -a -q -e "$1" "$2"; then
		echo "/$1/ must not match in $2" >&2
		return 1
	fi
}
