# Shared set-up for the end-to-end suite (e2e.bats): real clients against
# pam_sesame.so and sesame-mint.
#
# Nothing in /etc changes and no real user is created. Fake users, groups
# and shadow entries come from nss_wrapper; PAM service files live in a
# temp pam.d read through pam_wrapper; OpenSSH's sshd runs from a symlink
# named after its private service file, on a free port of 127.0.0.1, with
# its own sshd_config and host key. Everything started is stopped by PID.
# The one thing outside the temp directory is /run/sshd, which sshd needs
# for privilege separation (created root 0755 when missing, left in place).
#
# meson passes: PAM_SESAME (the module), SESAME_MINT (the CLI),
# SESAME_PAM_DRIVER (tests/pam/driver.c) and SESAME_E2E_SHIM
# (tests/e2e/getspnam_r_shim.c, so that the real pam_unix.so reads the
# fake shadow file).

# shellcheck source-path=SCRIPTDIR source=../bats/shared_helpers.bash
source "${BASH_SOURCE[0]%/*}/../bats/shared_helpers.bash"

: "${PAM_SESAME:?PAM_SESAME must name the built pam_sesame.so}"
: "${SESAME_MINT:?SESAME_MINT must name the built sesame-mint}"
: "${SESAME_PAM_DRIVER:?SESAME_PAM_DRIVER must name tests/pam/driver}"
: "${SESAME_E2E_SHIM:?SESAME_E2E_SHIM must name the getspnam_r shim}"

# This directory: sshd_config.in and the expect scripts (also for the
# fleet's suites, which load this file from tests/fleet).
E2E_DIR=$(cd "${BASH_SOURCE[0]%/*}" && pwd)

# The PAM service sshd uses: its program name, so the name of the symlink.
SSHD_SERVICE=sesame-e2e-sshd
SSH_PROMPT='Sesame token or link'
# Every client command is bounded by this many seconds.
CLIENT_TIMEOUT=30

E2E_PASSWORD_ALICE=alice-Pa55word
E2E_PASSWORD_BOB=bob-Pa55word

# ---- finding things ----

# A system PAM module by name (pam_unix.so, pam_faillock.so).
e2e_find_pam_module() {
	local dir
	for dir in "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/security" \
		/lib/x86_64-linux-gnu/security /usr/lib/x86_64-linux-gnu/security \
		/usr/lib64/security /usr/lib/security /lib/security; do
		[ -e "$dir/$1" ] && return 0
	done
	return 1
}

# A program by name, also from the sbin directories root's PATH may lack.
e2e_find_cmd() {
	local p
	p=$(command -v "$1" 2>/dev/null) && [ -x "$p" ] && {
		echo "$p"
		return 0
	}
	for p in /usr/sbin/"$1" /sbin/"$1" /usr/bin/"$1"; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# With a sanitizer build the runtime must be the first preloaded library.
# libcrypt comes next: ASan binds its crypt_r interceptor when it starts,
# and a libcrypt that arrives later with pam_unix.so would leave it NULL.
e2e_sanitizer_preload() {
	local san crypt
	san=$(sanitizer_preload "$SESAME_PAM_DRIVER")
	[ -n "$san" ] || return 0
	crypt=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libcrypt.so.1" { print $NF; exit }')
	printf '%s%s' "$san" "${crypt:+$crypt:}"
}

# Skip the current test unless each named program is installed.
need_cmd() {
	local c
	for c in "$@"; do
		e2e_find_cmd "$c" >/dev/null || skip "$c not installed"
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: ${1:-the real pam_unix.so reads shadow as root}"
}

need_pam_modules() {
	local m
	for m in "$@"; do
		e2e_find_pam_module "$m" || skip "$m not installed (libpam-modules)"
	done
}

need_sshd() {
	[ -z "${SSHD_SKIP:-}" ] || skip "$SSHD_SKIP"
}

need_aiosmtpd() {
	[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 not installed"
	/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd not installed"
}

# ---- processes ----

# A TCP port of 127.0.0.1 that was free a moment ago.
e2e_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null && return 0
	local port
	for port in $(shuf -i 20000-60000 -n 50); do
		if ! (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# True while PID runs (a zombie, killed but not yet reaped, does not count).
e2e_alive() {
	local stat
	[ -n "$1" ] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

# Stop one process we started: TERM, up to 5 s, then KILL.
e2e_stop() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		e2e_alive "$pid" || break
		sleep 0.1
	done
	e2e_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# ---- the sandbox ----

# Fake accounts. Homes exist, belong to their users and hold nothing;
# passwords are real SHA-512 crypt hashes, so pam_unix.so checks them.
e2e_write_accounts() {
	local u alice_hash bob_hash sshd_uid
	alice_hash=$(openssl passwd -6 "$E2E_PASSWORD_ALICE") || return 1
	bob_hash=$(openssl passwd -6 "$E2E_PASSWORD_BOB") || return 1
	# sshd's privilege separation user must exist for sshd to start.
	sshd_uid=$(getent passwd sshd | cut -d: -f3)
	: "${sshd_uid:=1599}"
	for u in alice bob; do
		mkdir -p "$E/home/$u"
	done
	cat >"$E/passwd" <<-END
	root:x:0:0:root:/root:/bin/sh
	sshd:x:$sshd_uid:65534::/run/sshd:/usr/sbin/nologin
	alice:x:1501:1501:Alice:$E/home/alice:/bin/sh
	bob:x:1502:1502:Bob:$E/home/bob:/bin/sh
	nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	END
	cat >"$E/group" <<-'END'
	root:x:0:
	alice:x:1501:
	bob:x:1502:
	nogroup:x:65534:
	END
	{
		echo 'root:*:19000:0:99999:7:::'
		echo 'sshd:*:19000:0:99999:7:::'
		echo "alice:$alice_hash:19000:0:99999:7:::"
		echo "bob:$bob_hash:19000:0:99999:7:::"
		echo 'nobody:*:19000:0:99999:7:::'
	} >"$E/shadow"
	chmod 0600 "$E/shadow"
	if [ "$(id -u)" -eq 0 ]; then
		chown 1501:1501 "$E/home/alice"
		chown 1502:1502 "$E/home/bob"
		chmod 0700 "$E/home/alice" "$E/home/bob"
	fi
}

# A service file: e2e_service NAME "LINE" ...
e2e_service() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$E/pam.d/$name"
}

# The PAM stack sshd uses: a token is the one way in; account and session
# through the real pam_unix.so (it checks the fake shadow entry's expiry).
e2e_write_sshd_service() {
	e2e_service "$SSHD_SERVICE" \
		"auth     required  $PAM_SESAME conf=$CONF" \
		"account  required  pam_unix.so" \
		"session  required  pam_unix.so" \
		"password required  pam_deny.so"
}

e2e_suite_setup() {
	PAM_WRAPPER_LIB=$(find_lib pam_wrapper libpam_wrapper.so) || PAM_WRAPPER_LIB=
	NSS_WRAPPER_LIB=$(find_lib nss_wrapper libnss_wrapper.so) || NSS_WRAPPER_LIB=
	SAN_PRELOAD=$(e2e_sanitizer_preload)
	E2E_SKIP=
	[ -n "$PAM_WRAPPER_LIB" ] || E2E_SKIP="libpam_wrapper.so not found (libpam-wrapper)"
	[ -n "$NSS_WRAPPER_LIB" ] || E2E_SKIP="libnss_wrapper.so not found (libnss-wrapper)"
	command -v openssl >/dev/null || E2E_SKIP="openssl not installed"
	export PAM_WRAPPER_LIB NSS_WRAPPER_LIB SAN_PRELOAD E2E_SKIP
	[ -z "$E2E_SKIP" ] || return 0

	# Not under BATS_RUN_TMPDIR (0700): the fake users must reach their homes.
	E=$(mktemp -d /tmp/sesame-e2e.XXXXXX)
	chmod 0711 "$E"
	CONF=$E/sesame.conf
	mkdir "$E/pam.d" "$E/sbin"
	mkdir -m 0700 "$E/state"
	export E CONF
	e2e_write_accounts
	printf 'key_file = %s\nstate_dir = %s\nurl = %s\n' "$E/key" "$E/state" \
		'https://login.example.com/sesame#' >"$CONF"
	chmod 0644 "$CONF"

	# No NSS_WRAPPER_HOSTNAME: sshd's PAM child runs with an empty
	# environment, where nss_wrapper would answer the real host name anyway.
	export NSS_WRAPPER_PASSWD=$E/passwd NSS_WRAPPER_GROUP=$E/group
	export NSS_WRAPPER_SHADOW=$E/shadow
	export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$E/pam.d
	# Level 2 sends pam_syslog lines to stderr; 3 would print PAM_AUTHTOK.
	export PAM_WRAPPER_DEBUGLEVEL=2 PAM_WRAPPER_DISABLE_DEEPBIND=1
	e2e_service other "auth required pam_deny.so" "account required pam_deny.so" \
		"session required pam_deny.so" "password required pam_deny.so"
	mint --keygen >/dev/null

	SSHD_SKIP=
	SSHD_PID=
	export SSHD_SKIP SSHD_PID
	e2e_sshd_prerequisites || return 0
	e2e_start_sshd
}

# Why sshd cannot run here (in SSHD_SKIP), or true.
e2e_sshd_prerequisites() {
	local c
	if [ "$(id -u)" -ne 0 ]; then
		SSHD_SKIP="needs root: sshd's privilege separation (setuid, chroot to /run/sshd)"
		return 1
	fi
	for c in sshd ssh sshpass; do
		if ! e2e_find_cmd "$c" >/dev/null; then
			SSHD_SKIP="$c not installed (openssh-server, openssh-client, sshpass)"
			return 1
		fi
	done
	if ! e2e_find_pam_module pam_unix.so; then
		SSHD_SKIP="pam_unix.so not installed (libpam-modules)"
		return 1
	fi
	return 0
}

# sshd under pam_wrapper + nss_wrapper, in the foreground (-D) of a
# background job, logging to $E/sshd.log (-e). sshd re-executes itself
# for each connection, so it is started by an absolute path; that path is
# a symlink whose name is the PAM service (OpenSSH uses __progname).
# SSHD_LAUNCH, an array, may name a command that execs its arguments
# (the fleet's suites: a namespace with another host name).
e2e_start_sshd() {
	local sshd port i
	sshd=$(readlink -f "$(e2e_find_cmd sshd)")
	ln -sfn "$sshd" "$E/sbin/$SSHD_SERVICE"
	mkdir -p /run/sshd
	chmod 0755 /run/sshd
	timeout "$CLIENT_TIMEOUT" ssh-keygen -q -t ed25519 -N '' -C sesame-e2e -f "$E/ssh_host_ed25519_key"
	e2e_write_sshd_service
	for _ in 1 2 3; do
		port=$(e2e_free_port)
		sed -e "s|@DIR@|$E|g" -e "s|@PORT@|$port|g" "$E2E_DIR/sshd_config.in" \
			>"$E/sshd_config"
		# A suite may add settings (e2e_mail.bats: MaxStartups for its
		# parallel logins); sshd_config.in does not set them.
		[ -z "${SSHD_CONFIG_EXTRA:-}" ] || printf '%s\n' "$SSHD_CONFIG_EXTRA" >>"$E/sshd_config"
		: >"$E/sshd.log"
		"${SSHD_LAUNCH[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			NSS_WRAPPER_PASSWD="$NSS_WRAPPER_PASSWD" NSS_WRAPPER_GROUP="$NSS_WRAPPER_GROUP" \
			NSS_WRAPPER_SHADOW="$NSS_WRAPPER_SHADOW" \
			PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WRAPPER_SERVICE_DIR" \
			PAM_WRAPPER_DEBUGLEVEL=2 PAM_WRAPPER_DISABLE_DEEPBIND=1 \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0" \
			UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
			LD_PRELOAD="$SAN_PRELOAD$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB:$SESAME_E2E_SHIM" \
			"$E/sbin/$SSHD_SERVICE" -D -e -f "$E/sshd_config" \
			</dev/null >>"$E/sshd.log" 2>&1 3>&- &
		SSHD_PID=$!
		echo "$SSHD_PID" >"$E/sshd.job.pid"
		for ((i = 0; i < 100; i++)); do
			grep -q "Server listening on 127.0.0.1 port $port" "$E/sshd.log" && break
			e2e_alive "$SSHD_PID" || break
			sleep 0.1
		done
		if grep -q "Server listening on 127.0.0.1 port $port" "$E/sshd.log"; then
			SSHD_PORT=$port
			export SSHD_PID SSHD_PORT
			return 0
		fi
		e2e_stop "$SSHD_PID"
		SSHD_PID=
		# Someone took the port between the probe and the bind: try another.
		grep -q 'Address already in use' "$E/sshd.log" || break
	done
	echo "sshd did not start; its log:" >&2
	cat "$E/sshd.log" >&2
	return 1
}

e2e_suite_teardown() {
	local r=0
	e2e_stop "${SSHD_PID:-}"
	# A sanitizer report from the module inside sshd fails the suite.
	if [ -n "${E:-}" ] && grep -a -q -E 'Sanitizer|runtime error:' "$E/sshd.log" 2>/dev/null; then
		grep -a -E -A20 'Sanitizer|runtime error:' "$E/sshd.log" >&2
		r=1
	fi
	if [ -n "${E:-}" ] && [ -d "$E" ]; then
		rm -rf "$E"
	fi
	e2e_clean_pam_wrapper_dirs
	return "$r"
}

# pam_wrapper gives each process a /tmp/pam.X copy of the service files and
# removes it at exit; sshd's children that end in _exit() or in a chroot
# leave theirs (pam_wrapper reclaims them later). Remove those that hold
# this suite's sshd service and whose process is gone, as pam_wrapper would.
e2e_clean_pam_wrapper_dirs() {
	local dir pid
	for dir in /tmp/pam.?; do
		if [ ! -f "$dir/$SSHD_SERVICE" ] || [ ! -f "$dir/pid" ]; then
			continue
		fi
		pid=$(cat "$dir/pid" 2>/dev/null)
		[[ $pid =~ ^[0-9]+$ ]] || continue
		e2e_alive "$pid" || rm -rf "$dir"
	done
}

e2e_test_setup() {
	[ -z "${E2E_SKIP:-}" ] || skip "$E2E_SKIP"
	T=$BATS_TEST_TMPDIR
	LOG=$T/log
	: >"$LOG"
	SMTP_PID=
	export T LOG
}

e2e_test_teardown() {
	e2e_stop "${SMTP_PID:-}"
	# A failed test shows what the programs said.
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${E:-}" ]; then
		local f
		for f in "$E/mint.log" "$LOG" "$T/smtp.log" "$E/sshd.log"; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f" >&2
			tail -n 12 "$f" >&2
		done
	fi
	if [ -n "${LOG:-}" ] && grep -a -q -E 'Sanitizer|runtime error:' "$LOG" "$E/mint.log" 2>/dev/null; then
		grep -a -E -A20 'Sanitizer|runtime error:' "$LOG" "$E/mint.log" >&2
		return 1
	fi
}

# ---- clients ----

# The CLI sees the fake accounts through nss_wrapper (+ the shim: it reads
# shadow entries with getspnam_r).
mint() {
	LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB:$SESAME_E2E_SHIM" timeout "$CLIENT_TIMEOUT" \
		"$SESAME_MINT" -c "${MINT_CONF:-$CONF}" "$@" 2>>"$E/mint.log"
}

# A PAM application under pam_wrapper + nss_wrapper (+ the shim for pam_unix).
pam_wrapped() {
	LD_PRELOAD="$SAN_PRELOAD$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB:$SESAME_E2E_SHIM" \
		timeout "$CLIENT_TIMEOUT" "$@"
}

SSH_OPTS=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	-o GlobalKnownHostsFile=/dev/null -o PreferredAuthentications=keyboard-interactive
	-o NumberOfPasswordPrompts=1 -o BatchMode=no -o ConnectTimeout=10 -o LogLevel=ERROR)

# ssh_login USER ANSWER: the real ssh client, answering sesame's prompt
# with ANSWER through sshpass (from the environment, not argv). The remote
# command prints a marker, the uid and the working directory.
ssh_login() {
	SSHPASS=$2 timeout "$CLIENT_TIMEOUT" sshpass -e -P "$SSH_PROMPT" \
		ssh "${SSH_OPTS[@]}" -p "$SSHD_PORT" "$1@127.0.0.1" 'echo sesame-ok; id -u; pwd'
}

# After `run ssh_login`: in as uid $1 with a home of $2.
expect_logged_in() {
	if [ "$status" -ne 0 ] || [ "${lines[0]:-}" != sesame-ok ] || [ "${lines[1]:-}" != "$1" ]; then
		echo "expected a login as uid $1; ssh said (status $status):" >&2
		printf '%s\n' "$output" >&2
		tail -n 15 "$E/sshd.log" >&2
		return 1
	fi
	[ "${lines[2]}" = "$2" ]
}

expect_denied() {
	if [ "$status" -eq 0 ] || [[ $output == *sesame-ok* ]] || [[ $output != *'Permission denied'* ]]; then
		echo "expected 'Permission denied'; ssh said (status $status):" >&2
		printf '%s\n' "$output" >&2
		return 1
	fi
}

# The sshd started for the suite is still the one answering.
expect_same_sshd() {
	e2e_alive "$SSHD_PID"
	[ "$(cat "$E/sshd.pid")" = "$SSHD_PID" ]
	[ "$(grep -c 'Server listening on' "$E/sshd.log")" -eq 1 ]
}

# The token's status line from --inspect, e.g. "invalid: used up".
token_status() {
	mint --inspect "$1" | sed -n 's/^status: *//p'
}

# zbarimg's text from a QR image (--nodbus where the build has it).
qr_decode() {
	local flags=(--raw -q)
	zbarimg --help 2>&1 | grep -q -- --nodbus && flags+=(--nodbus)
	timeout "$CLIENT_TIMEOUT" zbarimg "${flags[@]}" "$1"
}

# A local SMTP server (Debian's python3-aiosmtpd) storing each message in
# the Maildir $1; sets SMTP_PORT and SMTP_PID (stopped in teardown).
start_smtp() {
	local maildir=$1 i
	SMTP_PORT=$(e2e_free_port)
	/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
		-c aiosmtpd.handlers.Mailbox "$maildir" </dev/null >>"$T/smtp.log" 2>&1 3>&- &
	SMTP_PID=$!
	for ((i = 0; i < 100; i++)); do
		(exec 9<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && return 0
		e2e_alive "$SMTP_PID" || break
		sleep 0.1
	done
	echo "the SMTP server did not start:" >&2
	cat "$T/smtp.log" >&2
	return 1
}
