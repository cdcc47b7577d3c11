#!/usr/bin/env bats
# End to end: login by email over real SSH. OpenSSH's sshd runs
# pam_sesame.so with `mail`; the person at ssh_mail.exp's terminal presses
# Enter at "Sesame token or link:", msmtp (the configured sendmail) hands
# the link to an SMTP server on 127.0.0.1 (aiosmtpd), check_mail.py takes
# it from the stored message, and it is pasted at the next prompt of the
# same SSH session. The module-level tests of the feature are
# tests/bats/pam_mail.bats; the sandbox is e2e_helpers.bash.
#
# sshd empties the environment of its PAM child, so pam_wrapper prints
# only the module's LOG_ERR lines (a failed delivery) into sshd's log;
# the others (result="sent", "rate limited", "no address") are not seen
# here. Tests are skipped, with the reason, when not root or when ssh,
# expect, msmtp or python3-aiosmtpd is missing.

load e2e_helpers

# A PAM service name of this suite's own. pam_wrapper 1.1.4 picks its
# /tmp/pam.X copy of the service files by lstat() then mkdir(), and goes
# on when mkdir() fails: two processes starting together can share one
# copy, the last to copy winning. Under the name e2e.bats uses, a login
# here then ran e2e.bats's stack (no `mail`) when both suites ran at once.
SSHD_SERVICE=sesame-e2e-mail-sshd

URL_PREFIX='https://login.example.com/sesame#'
MAIL_FROM=sesame@test.example
NOTICE='If this account has a mail address, a login link is on its way. Paste it here.'
PARALLEL=20

setup_file() {
	# The rate limit test holds $PARALLEL connections unauthenticated at
	# once: sshd's default MaxStartups (10:30:100) resets some of them.
	SSHD_CONFIG_EXTRA='MaxStartups 50'
	e2e_suite_setup
}

teardown_file() {
	e2e_suite_teardown
}

setup() {
	e2e_test_setup
	need_sshd
	need_cmd expect msmtp
	need_aiosmtpd
	start_smtp "$T/maildir" # aiosmtpd creates the Maildir
	# Where this test's lines of the suite's sshd log begin.
	SSHD_LOG_FROM=$(($(wc -l <"$E/sshd.log") + 1))
}

teardown() {
	e2e_test_teardown
}

# ---- helpers ----

# mail_conf [SENDMAIL]: this test's sesame.conf, in $MCONF (and MINT_CONF
# for the CLI): the suite's key, a store of its own (the rate limits start
# afresh), and SENDMAIL (default msmtp) sending to this test's aiosmtpd.
mail_conf() {
	local sendmail=${1:-/usr/bin/msmtp}
	MCONF=$T/sesame.conf
	MINT_CONF=$MCONF
	mkdir -m 0700 "$T/state"
	cat >"$MCONF" <<-END
	key_file = $E/key
	state_dir = $T/state
	url = $URL_PREFIX
	sendmail = $sendmail -C /dev/null --host=127.0.0.1 --port=$SMTP_PORT --tls=off --auth=off --from=$MAIL_FROM -t
	mail_from = $MAIL_FROM
	END
	chmod 0644 "$MCONF"
}

# mail_service MAIL_TO: sshd's PAM stack with login by email. sshd
# re-executes itself per connection, and pam_wrapper copies the service
# files then, so the next connection uses this stack.
mail_service() {
	e2e_service "$SSHD_SERVICE" \
		"auth     required  $PAM_SESAME conf=$MCONF mail mail_to=$1" \
		"account  required  pam_unix.so" \
		"session  required  pam_unix.so" \
		"password required  pam_deny.so"
}

# mail_login USER [VAR=VALUE...]: `run` ssh_mail.exp for USER (see there
# for the variables); the mail is expected for USER@test.example.
mail_login() {
	local user=$1
	shift
	run env "$@" timeout "$CLIENT_TIMEOUT" expect -f "$BATS_TEST_DIRNAME/ssh_mail.exp" \
		"$SSHD_PORT" "$user" "$T/maildir" "$user@test.example" "$MAIL_FROM" "$URL_PREFIX"
	printf '%s\n' "$output" >&2
}

# After mail_login (or in a session's transcript): Enter brought exactly
# the notice, then the prompt again, as OpenSSH 9.2 shows a PAM_TEXT_INFO
# that comes with a keyboard-interactive prompt.
expect_notice() {
	local user=$1
	[ "${lines[0]}" = "prompt: ($user@127.0.0.1) Sesame token or link: " ]
	[ "${lines[1]}" = "notice: ($user@127.0.0.1) $NOTICE" ]
	[ "${lines[2]}" = "prompt: Sesame token or link: " ]
	[[ ${lines[3]} == 'waited: '* ]]
}

# The status of a mailed token, as this sshd's PAM service on this host sees it.
mailed_status() {
	mint -s "$SSHD_SERVICE" -H "$(uname -n)" --inspect "$1" | sed -n 's/^status: *//p'
}

messages() {
	find "$T/maildir/new" -type f 2>/dev/null
}

mail_count() {
	messages | wc -l
}

# This test's part of sshd's log.
sshd_log() {
	tail -n "+$SSHD_LOG_FROM" "$E/sshd.log"
}

# absent TEXT FILE|DIR...: TEXT is in none of them.
absent() {
	if grep -r -a -q -F -- "$1" "${@:2}"; then
		echo "found where it must not be:" >&2
		grep -r -a -l -F -- "$1" "${@:2}" >&2
		return 1
	fi
}

# ---- tests ----

@test "mail: Enter at the prompt mails a link; pasted in the same ssh session, it logs in" {
	mail_conf
	mail_service '%u@test.example'
	mail_login alice SESAME_LINK_FILE="$T/link"
	[ "$status" -eq 0 ]
	expect_notice alice
	[ "${lines[4]}" = "mail: link" ]
	[ "${lines[5]}" = "output: sesame-ok" ]
	[ "$(mail_count)" -eq 1 ]
	link=$(cat "$T/link")
	[[ $link == "${URL_PREFIX}sesame=SSM1"* ]]
	# The SMTP envelope msmtp sent.
	grep -q "^X-MailFrom: $MAIL_FROM" "$(messages)"
	grep -q '^X-RcptTo: alice@test.example' "$(messages)"
	# The mailed token: one use, for this sshd's PAM service on this host, used.
	run mint -s "$SSHD_SERVICE" -H "$(uname -n)" --inspect "$link"
	printf '%s\n' "$output" >&2
	grep -q -E "^account: +alice \(uid 1501\)$" <<<"$output"
	grep -q -E "^service: +$SSHD_SERVICE$" <<<"$output"
	grep -q -E "^host: +$(uname -n)$" <<<"$output"
	grep -q -E '^uses: +1, 1 used$' <<<"$output"
	grep -q -E '^status: +invalid: used up$' <<<"$output"
	[ "$(sshd_log | grep -c 'Accepted keyboard-interactive/pam for alice from 127.0.0.1')" -eq 1 ]
	expect_same_sshd
}

@test "mail: the mailed link works once; pasted again in a new session it is denied" {
	mail_conf
	mail_service '%u@test.example'
	mail_login alice SESAME_LINK_FILE="$T/link"
	[ "${lines[5]}" = "output: sesame-ok" ]
	link=$(cat "$T/link")
	# Pasted at the first prompt of a new session.
	run ssh_login alice "$link"
	expect_denied
	# Pasted after Enter again (within mail_interval: no second mail).
	mail_login alice SESAME_ANSWER="$link"
	[ "$status" -ne 0 ]
	expect_notice alice
	[ "${lines[4]}" = "mail: 1 messages" ]
	[ "${lines[5]}" = "output: Permission denied" ]
	[ "$(mail_count)" -eq 1 ]
	[ "$(mailed_status "$link")" = "invalid: used up" ]
	[ "$(sshd_log | grep -c 'Failed keyboard-interactive/pam for alice from 127.0.0.1')" -eq 2 ]
}

@test "mail: a user with no address sees the same notice, gets no mail, and garbage is refused" {
	mail_conf
	# Root-owned and 0600, checked like the key file; bob has no line.
	printf '# who gets login links\nalice alice@test.example\n' >"$T/mail.map"
	chmod 0600 "$T/mail.map"
	mail_service "$T/mail.map"
	mail_login bob SESAME_ANSWER=not-a-token-nor-a-link SESAME_MAIL_WAIT=3
	[ "$status" -ne 0 ]
	expect_notice bob
	[ "${lines[4]}" = "mail: none" ]
	[ "${lines[5]}" = "output: Permission denied" ]
	[ "$(mail_count)" -eq 0 ]
	# The map works (a broken one would send nothing either): through the
	# same stack alice gets her link and logs in with it.
	mail_login alice
	[ "$status" -eq 0 ]
	expect_notice alice
	[ "${lines[4]}" = "mail: link" ]
	[ "${lines[5]}" = "output: sesame-ok" ]
	[ "$(mail_count)" -eq 1 ]
	grep -q '^X-RcptTo: alice@test.example' "$(messages)"
	sshd_log >"$T/sshd.part"
	absent 'result="failed"' "$T/sshd.part"
}

@test "mail: $PARALLEL parallel sessions pressing Enter get one mail, and all get the prompt back" {
	# Delivery that takes a while: the sessions the rate limit turns away
	# must not wait for it (the store is not held while mail goes out).
	delay=4
	printf '#!/bin/sh\nsleep %s\nexec /usr/bin/msmtp "$@"\n' "$delay" >"$T/slow-sendmail"
	chmod 0755 "$T/slow-sendmail"
	mail_conf "$T/slow-sendmail"
	mail_service '%u@test.example'
	pids=()
	for ((i = 1; i <= PARALLEL; i++)); do
		SESAME_BARRIER=$T/go SESAME_ANSWER="garbage-$i" timeout "$CLIENT_TIMEOUT" \
			expect -f "$BATS_TEST_DIRNAME/ssh_mail.exp" "$SSHD_PORT" alice "$T/maildir" \
			alice@test.example "$MAIL_FROM" "$URL_PREFIX" >"$T/session.$i" 2>&1 &
		pids+=($!)
	done
	# All at the first prompt (none dropped by sshd), then Enter together.
	for ((i = 0; i < 200; i++)); do
		[ "$(find "$T" -maxdepth 1 -name 'go.ready.*' | wc -l)" -ge "$PARALLEL" ] && break
		sleep 0.1
	done
	ready=$(find "$T" -maxdepth 1 -name 'go.ready.*' | wc -l)
	touch "$T/go"
	statuses=()
	for pid in "${pids[@]}"; do
		wait "$pid" && statuses+=(0) || statuses+=($?)
	done
	for ((i = 1; i <= PARALLEL; i++)); do
		echo "--- session $i (status ${statuses[i - 1]})" >&2
		cat "$T/session.$i" >&2
	done
	[ "$ready" -eq "$PARALLEL" ]
	slow=0
	for ((i = 1; i <= PARALLEL; i++)); do
		mapfile -t lines <"$T/session.$i"
		expect_notice alice
		[ "${lines[5]}" = "output: Permission denied" ]
		[ "${statuses[i - 1]}" -eq 255 ] # ssh's, not timeout's 124
		waited=${lines[3]#waited: }
		[ "$waited" -lt $((delay * 1000)) ] || slow=$((slow + 1))
	done
	# One session sent the mail and waited for the slow delivery; the
	# rate limit answered the others at once.
	[ "$slow" -eq 1 ]
	[ "$(mail_count)" -eq 1 ]
	grep -q '^X-RcptTo: alice@test.example' "$(messages)"
	[ "$(sshd_log | grep -c 'Failed keyboard-interactive/pam for alice from 127.0.0.1')" -eq "$PARALLEL" ]
	expect_same_sshd
}

@test "mail: the token reaches the mailbox only, never a log or the store" {
	# This sendmail delivers, then reports failure: the module logs that at
	# LOG_ERR, the one level pam_wrapper prints in sshd's PAM child, so
	# sshd's log holds the module's own line about this very token.
	printf '#!/bin/sh\n/usr/bin/msmtp "$@" || exit\nexit 75\n' >"$T/sendmail-then-fail"
	chmod 0755 "$T/sendmail-then-fail"
	mail_conf "$T/sendmail-then-fail"
	mail_service '%u@test.example'
	mail_login alice SESAME_LINK_FILE="$T/link"
	[ "$status" -eq 0 ]
	expect_notice alice
	[ "${lines[5]}" = "output: sesame-ok" ]
	tok=$(grep -o 'SSM1[0-9A-Z]*' "$(messages)" | head -n 1)
	[ ${#tok} -eq 60 ]
	[ "$(cat "$T/link")" = "${URL_PREFIX}sesame=$tok" ]
	id=$(mint --inspect "$tok" | sed -n 's/^id: *//p')
	[[ $id =~ ^[0-9a-f]{12}$ ]]
	sshd_log | grep -q -F "sesame: mail user=alice service=$SSHD_SERVICE rhost=127.0.0.1 id=$id result=\"failed\" detail=\"sendmail command $T/sendmail-then-fail: exited with status 75\""
	sshd_log | grep -q 'Accepted keyboard-interactive/pam for alice from 127.0.0.1'
	# The token, and its last 20 characters alone, only in the mailbox.
	grep -q -F "$tok" "$(messages)"
	for secret in "$tok" "${tok:40}"; do
		absent "$secret" "$E/sshd.log" "$T/smtp.log" "$E/mint.log" "$LOG" "$T/state" "$E/state"
	done
}

@test "mail: a failing sendmail shows the user only the notice; sshd's log has the detail" {
	mail_conf /bin/false
	mail_service '%u@test.example'
	mail_login alice SESAME_ANSWER=not-a-token-nor-a-link SESAME_MAIL_WAIT=1
	[ "$status" -ne 0 ]
	expect_notice alice
	[ "${lines[4]}" = "mail: none" ]
	[ "${lines[5]}" = "output: Permission denied" ]
	sshd_log | grep -q "sesame: mail user=alice service=$SSHD_SERVICE rhost=127.0.0.1 id=[0-9a-f]\{12\} result=\"failed\" detail=\"sendmail command /bin/false: exited with status 1\""
	[ "$(mail_count)" -eq 0 ]
}
