# What every Bats suite shares: the CLI's (cli.bats), the module's
# (pam*.bats, security/hostile_input.bats) and the end-to-end ones
# (e2e/*.bats). Each suite's own helper file (cli_helpers.bash,
# pam_helpers.bash, e2e/e2e_helpers.bash) sources this one first, then
# adds what only that suite needs; a .bats file loads its suite's file.
#
# A suite's helper file defines pam_wrapped (how a PAM application is
# preloaded there) before pam_auth or pamtester_auth run.
#
# shellcheck disable=SC2034 # the PAM codes are used by the .bats files

# Linux-PAM return codes (security/_pam_types.h).
PAM_SUCCESS=0
PAM_SERVICE_ERR=3
PAM_PERM_DENIED=6
PAM_AUTH_ERR=7
PAM_AUTHINFO_UNAVAIL=9
PAM_USER_UNKNOWN=10
PAM_CONV_ERR=19

# ---- finding the wrappers ----

# find_lib PKG FILE: a preload library (pam_wrapper, nss_wrapper). pkg-config's
# Libs may name it by full path; else the multiarch and plain library
# directories; else the linker cache.
find_lib() {
	local pc=$1 file=$2 dir candidate
	candidate=$(pkg-config --libs "$pc" 2>/dev/null | tr ' ' '\n' | grep "/$file\$" | head -n 1)
	if [ -n "$candidate" ] && [ -e "$candidate" ]; then
		echo "$candidate"
		return 0
	fi
	for dir in "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)" \
		/usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib \
		/usr/local/lib; do
		if [ -e "$dir/$file" ]; then
			echo "$dir/$file"
			return 0
		fi
	done
	candidate=$(/sbin/ldconfig -p 2>/dev/null | awk -v f="$file" '$1 == f { print $NF; exit }')
	if [ -n "$candidate" ] && [ -e "$candidate" ]; then
		echo "$candidate"
		return 0
	fi
	return 1
}

# sanitizer_preload PROGRAM: with a sanitizer build, the runtimes PROGRAM
# links ("a:b:"), which must be the first preloaded libraries; else nothing.
sanitizer_preload() {
	ldd "$1" 2>/dev/null | awk '/lib(a|ub)san/ { printf "%s:", $3 }'
}

# ---- fake accounts ----

# fake_accounts DIR: DIR/passwd, DIR/group and DIR/shadow (0600) for
# nss_wrapper with root, alice (uid 1501) and bob (1502). The shadow hashes
# are made up: nothing checks a password against them. A suite appends
# its own extra users and groups.
fake_accounts() {
	cat >"$1/passwd" <<-'END'
	root:x:0:0:root:/root:/bin/sh
	alice:x:1501:1501:Alice:/home/alice:/bin/sh
	bob:x:1502:1502:Bob:/home/bob:/bin/sh
	END
	cat >"$1/group" <<-'END'
	root:x:0:
	alice:x:1501:
	bob:x:1502:
	END
	cat >"$1/shadow" <<-'END'
	root:$y$j9T$rootsalt$roothashroothashroothashroothash:19000:0:99999:7:::
	alice:$y$j9T$alicesalt$alicehashalicehashalicehashalice:19000:0:99999:7:::
	bob:$y$j9T$bobsalt$bobhashbobhashbobhashbobhashbobhash:19000:0:99999:7:::
	END
	chmod 0600 "$1/shadow"
}

# ---- driving PAM ----

# pam_auth [driver options] SERVICE USER|- [REPLY...]: run tests/pam/driver.c.
# Sets PAM_RC (the number pam_authenticate returned), PAM_OUT (the
# driver's stdout) and PAM_USER_OUT (PAM_USER at the end). Prompts and the
# modules' log lines go to $LOG.
pam_auth() {
	PAM_OUT=$(pam_wrapped "$SESAME_PAM_DRIVER" "$@" 2>>"$LOG") || true
	PAM_RC=$(sed -n 's/^rc=\([0-9]*\) .*/\1/p' <<<"$PAM_OUT")
	PAM_USER_OUT=$(sed -n 's/^rc=.* user=\(.*\)$/\1/p' <<<"$PAM_OUT")
}

# expect_rc RC: the last pam_auth returned RC.
expect_rc() {
	if [ "$PAM_RC" != "$1" ]; then
		echo "expected rc=$1, driver said: ${PAM_OUT:-<nothing>}" >&2
		tail -n 8 "$LOG" >&2
		return 1
	fi
}

# pamtester_auth SERVICE USER INPUT: a stock PAM application, with INPUT
# typed at every prompt (on stdin).
pamtester_auth() {
	printf '%s\n' "$3" | pam_wrapped pamtester -v "$1" "$2" authenticate >>"$LOG" 2>&1
}

# ---- tokens ----

# change_char TOKEN I: a copy of TOKEN with the character at I replaced by
# another base32 digit.
change_char() {
	local token=$1 i=$2 alphabet=0123456789ABCDEFGHJKMNPQRSTVWXYZ
	local c=${token:i:1} rest=${alphabet#*"${token:i:1}"} new
	new=${rest:0:1}
	[ -n "$new" ] || new=0
	[ "$c" != "$new" ] || new=1
	printf '%s%s%s' "${token:0:i}" "$new" "${token:i+1}"
}
