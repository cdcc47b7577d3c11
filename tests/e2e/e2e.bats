#!/usr/bin/env bats
# End to end: real clients against pam_sesame.so and sesame-mint.
#   1. SSH: OpenSSH's sshd and ssh, keyboard-interactive through PAM.
#   2. A console stack: the real pam_unix.so, pam_sesame.so use_first_pass,
#      pam_deny.so, and pam_faillock.so.
#   3. A kiosk: QR codes decoded by zbarimg (PNG, and SVG through
#      rsvg-convert) and handed to a greeter-style PAM conversation.
#   4. Email: msmtp delivers the link to a local SMTP server (aiosmtpd);
#      Python's email package parses it; the link logs in over SSH.
# See e2e_helpers.bash for the sandbox. Tests needing root, or a client
# that is not installed, are skipped with the reason.

load e2e_helpers

setup_file() {
	e2e_suite_setup
}

teardown_file() {
	e2e_suite_teardown
}

setup() {
	e2e_test_setup
}

teardown() {
	e2e_test_teardown
}

# ---- 1. SSH ----

@test "ssh: a pasted token logs in and runs a command, once" {
	need_sshd
	tok=$(mint alice)
	run ssh_login alice "$tok"
	expect_logged_in 1501 "$E/home/alice"
	[ "$(token_status "$tok")" = "invalid: used up" ]
	expect_same_sshd
}

@test "ssh: a pasted link logs in" {
	need_sshd
	link=$(mint --link bob)
	[[ $link == 'https://login.example.com/sesame#sesame=SSM1'* ]]
	run ssh_login bob "$link"
	expect_logged_in 1502 "$E/home/bob"
}

@test "ssh: a link wrapped in <> with spaces logs in" {
	need_sshd
	link=$(mint --link alice)
	run ssh_login alice "   <$link>  "
	expect_logged_in 1501 "$E/home/alice"
}

@test "ssh: a person at a terminal sees 'Sesame token or link:' (expect)" {
	need_sshd
	need_cmd expect
	tok=$(mint alice)
	run env SESAME_ANSWER="$tok" timeout "$CLIENT_TIMEOUT" \
		expect -f "$BATS_TEST_DIRNAME/ssh_prompt.exp" "$SSHD_PORT" alice
	printf '%s\n' "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "prompt: (alice@127.0.0.1) Sesame token or link: " ]
	[ "${lines[1]}" = "output: sesame-ok" ]
	# The replay, typed the same way: refused, and not asked twice.
	run env SESAME_ANSWER="$tok" timeout "$CLIENT_TIMEOUT" \
		expect -f "$BATS_TEST_DIRNAME/ssh_prompt.exp" "$SSHD_PORT" alice
	[ "$status" -ne 0 ]
	[ "${lines[1]}" = "Permission denied" ]
}

@test "ssh: a replayed token gets Permission denied" {
	need_sshd
	tok=$(mint alice)
	run ssh_login alice "$tok"
	expect_logged_in 1501 "$E/home/alice"
	run ssh_login alice "$tok"
	expect_denied
}

@test "ssh: an expired token gets Permission denied" {
	need_sshd
	tok=$(mint -t 2s alice)
	sleep 3
	run ssh_login alice "$tok"
	expect_denied
	[ "$(token_status "$tok")" = "invalid: expired" ]
}

@test "ssh: a tampered token gets Permission denied and the original still works" {
	need_sshd
	tok=$(mint alice)
	run ssh_login alice "$(change_char "$tok" 30)"
	expect_denied
	run ssh_login alice "${tok:0:59}"
	expect_denied
	run ssh_login alice "$tok"
	expect_logged_in 1501 "$E/home/alice"
}

@test "ssh: a token for another user gets Permission denied and stays usable" {
	need_sshd
	tok=$(mint bob)
	run ssh_login alice "$tok"
	expect_denied
	[ "$(token_status "$tok")" = "valid" ]
	run ssh_login bob "$tok"
	expect_logged_in 1502 "$E/home/bob"
}

@test "ssh: sshd's PAM service is its program name: scoped tokens" {
	need_sshd
	# Scoped to this sshd's service (the symlink's name) and this host.
	here=$(mint -s "$SSHD_SERVICE" -H "$(uname -n)" alice)
	run ssh_login alice "$here"
	expect_logged_in 1501 "$E/home/alice"
	# Scoped to the stock service name "sshd", or to another host.
	other_service=$(mint -s sshd alice)
	run ssh_login alice "$other_service"
	expect_denied
	other_host=$(mint -H elsewhere.example alice)
	run ssh_login alice "$other_host"
	expect_denied
	[ "$(token_status "$other_service")" = "valid" ]
}

@test "ssh: the same sshd still serves logins after the failures" {
	need_sshd
	expect_same_sshd
	tok=$(mint -n 2 alice)
	run ssh_login alice "$tok"
	expect_logged_in 1501 "$E/home/alice"
	run ssh_login alice "$tok"
	expect_logged_in 1501 "$E/home/alice"
	run ssh_login alice "$tok"
	expect_denied
	expect_same_sshd
	# sshd saw the refusals as failed keyboard-interactive attempts.
	grep -q 'Failed keyboard-interactive/pam for alice from 127.0.0.1' "$E/sshd.log"
	grep -q 'Accepted keyboard-interactive/pam for alice from 127.0.0.1' "$E/sshd.log"
}

# ---- 2. A console stack beside the real pam_unix.so ----

# nodelay (pam_unix.so, pam_faillock.so): no 2 s pause after each failure,
# to keep the suite fast; a real console keeps the delay.
console_stack() {
	e2e_service console \
		"auth  sufficient  pam_unix.so nodelay" \
		"auth  sufficient  $PAM_SESAME conf=$CONF use_first_pass" \
		"auth  requisite   pam_deny.so"
}

# The same with pam_faillock around it (pam_faillock(8)); $1: preauth's
# control (required, as in pam_faillock(8) and the README, or requisite).
faillock_stack() {
	local fl="dir=$T/faillock deny=3 unlock_time=600 nodelay"
	mkdir -m 0755 "$T/faillock"
	e2e_service lockable \
		"auth     ${1:-required}  pam_faillock.so preauth $fl" \
		"auth     sufficient      pam_unix.so nodelay" \
		"auth     sufficient      $PAM_SESAME conf=$CONF use_first_pass" \
		"auth     [default=die]   pam_faillock.so authfail $fl" \
		"auth     requisite       pam_deny.so" \
		"account  required        pam_faillock.so $fl"
}

faillock_count() {
	LD_PRELOAD="$NSS_WRAPPER_LIB" timeout "$CLIENT_TIMEOUT" \
		faillock --dir "$T/faillock" --user alice | grep -c ' V$' || true
}

faillock_reset() {
	LD_PRELOAD="$NSS_WRAPPER_LIB" timeout "$CLIENT_TIMEOUT" \
		faillock --dir "$T/faillock" --user alice --reset
}

@test "console: pam_unix.so takes the password; a token typed at Password: works once (pamtester)" {
	need_root
	need_cmd pamtester
	need_pam_modules pam_unix.so pam_deny.so
	console_stack
	pamtester_auth console alice "$E2E_PASSWORD_ALICE"
	tok=$(mint alice)
	pamtester_auth console alice "$tok"
	[ "$(grep -c 'pamtester: successfully authenticated' "$LOG")" -eq 2 ]
	run pamtester_auth console alice "$tok"
	[ "$status" -ne 0 ]
	run pamtester_auth console alice 'garbage, neither password nor token'
	[ "$status" -ne 0 ]
	run pamtester_auth console bob "$E2E_PASSWORD_ALICE"
	[ "$status" -ne 0 ]
	# One prompt per attempt, pam_unix's; the module read what was typed there.
	[ "$(grep -c 'Password: ' "$LOG")" -eq 5 ]
	grep -q 'sesame: user=alice service=console .* result=success reason="valid"' "$LOG"
	grep -q 'result=refused reason="used up"' "$LOG"
	grep -q 'result=refused reason="authtok is not a sesame token"' "$LOG"
}

@test "console: exact return codes through the driver" {
	need_root
	need_pam_modules pam_unix.so pam_deny.so
	console_stack
	pam_auth console alice "$E2E_PASSWORD_ALICE"
	expect_rc $PAM_SUCCESS
	link=$(mint --link alice)
	pam_auth console alice "$link"
	expect_rc $PAM_SUCCESS
	pam_auth console alice "$link"
	expect_rc $PAM_AUTH_ERR
	pam_auth console alice 'Garbage-But-Secret'
	expect_rc $PAM_AUTH_ERR
	if grep -q 'Garbage-But-Secret' "$LOG"; then
		echo "what was typed reached the log" >&2
		return 1
	fi
}

@test "console + pam_faillock: three bad tokens lock the account; faillock --reset unlocks" {
	need_root
	need_cmd faillock
	need_pam_modules pam_unix.so pam_deny.so pam_faillock.so
	faillock_stack required
	pam_auth lockable alice "$E2E_PASSWORD_ALICE"
	expect_rc $PAM_SUCCESS
	for i in 1 2 3; do
		tok=$(mint alice)
		pam_auth lockable alice "$(change_char "$tok" $((10 + i)))"
		# authfail under [default=die] ends the stack: PAM_PERM_DENIED.
		expect_rc $PAM_PERM_DENIED
		[ "$(faillock_count)" -eq "$i" ]
	done
	grep -q 'Consecutive login failures for user alice account temporarily locked' "$LOG"
	# Locked: the real password and a valid token are both refused.
	pam_auth lockable alice "$E2E_PASSWORD_ALICE"
	expect_rc $PAM_AUTH_ERR
	grep -q 'The account is locked due to 3 failed logins' "$LOG"
	pam_auth lockable alice "$(mint alice)"
	expect_rc $PAM_AUTH_ERR
	faillock_reset
	[ "$(faillock_count)" -eq 0 ]
	pam_auth lockable alice "$(mint alice)"
	expect_rc $PAM_SUCCESS
	pam_auth lockable alice "$E2E_PASSWORD_ALICE"
	expect_rc $PAM_SUCCESS
}

@test "console + pam_faillock: bad passwords lock tokens out the same way" {
	need_root
	need_cmd faillock
	need_pam_modules pam_unix.so pam_deny.so pam_faillock.so
	faillock_stack required
	for i in 1 2 3; do
		pam_auth lockable alice "wrong-password-$i"
		expect_rc $PAM_PERM_DENIED
	done
	[ "$(faillock_count)" -eq 3 ]
	pam_auth lockable alice "$(mint alice)"
	expect_rc $PAM_AUTH_ERR
	faillock_reset
	pam_auth lockable alice "$(mint alice)"
	expect_rc $PAM_SUCCESS
}

@test "console + pam_faillock: with requisite preauth a locked account does not spend a token" {
	need_root
	need_cmd faillock
	need_pam_modules pam_unix.so pam_deny.so pam_faillock.so
	faillock_stack requisite
	for i in 1 2 3; do
		pam_auth lockable alice "$(change_char "$(mint alice)" 20)"
	done
	tok=$(mint alice)
	pam_auth lockable alice "$tok"
	expect_rc $PAM_AUTH_ERR
	[ "$(token_status "$tok")" = valid ]
	faillock_reset
	pam_auth lockable alice "$tok"
	expect_rc $PAM_SUCCESS
}

# ---- 3. A kiosk: QR codes through a third-party decoder ----

kiosk_service() {
	e2e_service kiosk-greeter \
		"auth  required  $PAM_SESAME conf=$CONF user_from_token [prompt=Scan your badge: ]"
}

@test "kiosk: a PNG QR code, decoded by zbarimg, logs its account in at a greeter once" {
	need_cmd zbarimg
	kiosk_service
	tok=$(mint -s kiosk-greeter -H "$(uname -n)" --qr png -o "$T/badge.png" bob)
	[ "$(head -c 8 "$T/badge.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
	text=$(qr_decode "$T/badge.png")
	[ "$text" = "$tok" ]
	pam_auth kiosk-greeter - "$text"
	expect_rc $PAM_SUCCESS
	[ "$PAM_USER_OUT" = bob ]
	grep -q '^prompt: Scan your badge: $' "$LOG"
	pam_auth kiosk-greeter - "$text"
	expect_rc $PAM_AUTH_ERR
	[ "$PAM_USER_OUT" = - ]
	grep -q 'result=refused reason="used up"' "$LOG"
}

@test "kiosk: the SVG QR code, rendered by rsvg-convert, decodes to the same text" {
	need_cmd zbarimg rsvg-convert
	kiosk_service
	link=$(mint -s kiosk-greeter --link --qr svg -o "$T/badge.svg" alice)
	grep -q '<svg' "$T/badge.svg"
	timeout "$CLIENT_TIMEOUT" rsvg-convert -w 400 -o "$T/badge.png" "$T/badge.svg"
	text=$(qr_decode "$T/badge.png")
	[ "$text" = "$link" ]
	pam_auth kiosk-greeter - "$text"
	expect_rc $PAM_SUCCESS
	[ "$PAM_USER_OUT" = alice ]
}

# ---- 4. Email: msmtp to a local SMTP server, then the link over SSH ----

@test "email: sesame-mint --mail through msmtp and aiosmtpd; the link logs in over ssh" {
	need_sshd
	need_cmd msmtp
	need_aiosmtpd
	start_smtp "$T/maildir" # aiosmtpd creates the Maildir
	# msmtp with no configuration file: everything on the command line.
	msmtp="/usr/bin/msmtp -C /dev/null --host=127.0.0.1 --port=$SMTP_PORT --tls=off --auth=off"
	# In sanitizer builds sendmail inherits the ASan runtime from the
	# CLI's LD_PRELOAD, and msmtp hangs with it: start msmtp without.
	[ -z "$SAN_PRELOAD" ] || msmtp="/usr/bin/env -u LD_PRELOAD $msmtp"
	MINT_CONF=$T/mail.conf
	cp "$CONF" "$MINT_CONF"
	cat >>"$MINT_CONF" <<-END
	sendmail = $msmtp --from=sesame@test.example -t
	mail_from = sesame@test.example
	END
	run mint --mail alice@test.example alice
	[ "$status" -eq 0 ]
	[ -z "$output" ] # the link went by mail only
	for ((i = 0; i < 50; i++)); do
		[ -z "$(find "$T/maildir/new" -type f)" ] || break
		sleep 0.1
	done
	[ "$(find "$T/maildir/new" -type f | wc -l)" -eq 1 ]
	message=$(find "$T/maildir/new" -type f)
	link=$(timeout "$CLIENT_TIMEOUT" /usr/bin/python3 "$BATS_TEST_DIRNAME/check_mail.py" \
		"$message" alice@test.example sesame@test.example 'https://login.example.com/sesame#')
	[[ $link == 'https://login.example.com/sesame#sesame=SSM1'* ]]
	# The server saw the SMTP envelope msmtp sent.
	grep -q '^X-MailFrom: sesame@test.example' "$message"
	grep -q '^X-RcptTo: alice@test.example' "$message"
	run ssh_login alice "$link"
	expect_logged_in 1501 "$E/home/alice"
	run ssh_login alice "$link"
	expect_denied
	expect_same_sshd
}
