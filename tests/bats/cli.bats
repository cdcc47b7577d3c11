#!/usr/bin/env bats
# sesame-mint, end to end: keys, minting, links, JSON, QR codes, mail,
# inspection and every rejection reason it can show without the module,
# revocation, gc, configuration errors and usage. Exit codes are checked
# exactly (0 ok, 1 rejected or refused, 2 usage, config or system error),
# and no run may leave a token, shadow hash or key on stderr (see sm in
# cli_helpers.bash).
#
#   SESAME_MINT=build/cli/sesame-mint bats tests/bats/cli.bats

load cli_helpers

setup_file() {
	cli_suite_setup
}

setup() {
	cli_test_setup
}

HASH_RE='[0-9a-f]{64}'

# ---- keys ----

@test "keygen: creates the key file 0600 (even under umask 000) with one key" {
	printf 'key_file = %s\nstate_dir = %s\n' "$T/key-new" "$T/state" >"$T/k.conf"
	chmod 0600 "$T/k.conf"
	umask 000
	sm 0 -c "$T/k.conf" --keygen
	[ "$(mode "$T/key-new")" = 600 ]
	[ "$(grep -cvE '^#' "$T/key-new")" = 1 ]
	grep -qE "^1 $HASH_RE\$" "$T/key-new"
	stderr_has "key 1 written to $T/key-new"
	[ ! -s "$T/stdout" ]
}

@test "keygen: a second --keygen refuses (exit 2), naming the file, and leaves it unchanged" {
	before=$(sha256sum <"$T/key")
	sm 2 -c "$CONF" --keygen
	error_line "$T/key" "--rotate"
	[ "$(sha256sum <"$T/key")" = "$before" ]
	[ "$(mode "$T/key")" = 600 ]
}

@test "keygen --rotate: old tokens verify, new ones use key 2; deleting key 1's line kills its tokens" {
	mint alice
	old=$TOK
	sm 0 -c "$CONF" --keygen --rotate
	stderr_has "key 2 added to $T/key"
	[ "$(mode "$T/key")" = 600 ]
	grep -qE "^1 $HASH_RE\$" "$T/key"
	grep -qE "^2 $HASH_RE\$" "$T/key"

	inspect 0 valid "$old"
	stdout_has "key:      1"
	mint alice
	new=$TOK
	inspect 0 valid "$new"
	stdout_has "key:      2"

	sed -i '/^1 /d' "$T/key"
	[ "$(mode "$T/key")" = 600 ]
	inspect 1 "invalid: unknown key" "$old"
	stdout_has "key:      1"
	inspect 0 valid "$new"
}

@test "keys: a group-readable or symlinked key file is refused (exit 2), naming it" {
	chmod 0640 "$T/key"
	sm 2 -c "$CONF" alice
	error_line "$T/key"
	chmod 0600 "$T/key"

	ln -s "$T/key" "$T/key-link"
	cli_conf "$T/l.conf"
	sed -i "s|^key_file = .*|key_file = $T/key-link|" "$T/l.conf"
	sm 2 -c "$T/l.conf" alice
	error_line "$T/key-link"
}

# ---- minting ----

@test "mint: exactly one line on stdout, a 60-character token; details on stderr" {
	mint alice
	[ "$(lines "$T/stdout")" = 1 ]
	[ "${#TOK}" = 60 ]
	[[ $TOK =~ $TOKEN_RE ]]
	stderr_has "account: alice (uid 1501)"
	grep -qE '^expires: .+ \([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\)$' "$T/stderr"
	stderr_has "uses:    1"
	stderr_has "service: any"
	stderr_has "host:    any"
	id=$(sed -n 's/^id:      \([0-9a-f]\{12\}\)$/\1/p' "$T/stderr")
	[ -n "$id" ]
	inspect 0 valid "$TOK"
	stdout_has "id:       $id"
}

@test "mint: two tokens for the same user differ" {
	mint alice
	a=$TOK
	mint alice
	[ "$a" != "$TOK" ]
}

@test "mint --json: one object with token, id, user, uid, expires, uses, service, host" {
	mint --json alice
	python3_ok=$("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print("ok")' <"$T/stdout")
	[ "$python3_ok" = ok ]
	json_check \
		're.match(r"^SSM1[0-9A-HJKMNP-TV-Z]{56}$", d["token"])' \
		're.match(r"^[0-9a-f]{12}$", d["id"])' \
		'd["user"] == "alice"' 'd["uid"] == 1501' 'd["uses"] == 1' 'd["key_id"] == 1' \
		'd["service"] is None' 'd["host"] is None' 'd["link"] is None' \
		'd["expires"] - d["issued"] == 900' 'd["lifetime"] == 900' \
		'abs(d["issued"] - time.time()) < 60' \
		're.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d["expires_iso"])'
	# The JSON describes the token it carries.
	tok=$("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["token"])' <"$T/stdout")
	id=$("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["id"])' <"$T/stdout")
	inspect 0 valid "$tok"
	stdout_has "id:       $id"
}

@test "mint: -t 2h -n 3 -s sshd -H kiosk are reflected on stderr, in --json and by --inspect" {
	mint -t 2h -n 3 -s sshd -H kiosk alice
	stderr_has "uses:    3"
	stderr_has "service: sshd"
	stderr_has "host:    kiosk"
	inspect 0 valid -s sshd -H kiosk "$TOK"
	stdout_has "uses:     3, 0 used"
	stdout_has "service:  sshd"
	stdout_has "host:     kiosk"

	mint --json -t 2h -n 3 -s sshd -H kiosk alice
	json_check 'd["expires"] - d["issued"] == 7200' 'd["uses"] == 3' \
		'd["service"] == "sshd"' 'd["host"] == "kiosk"'

	mint --json -n 0 alice
	json_check 'd["uses"] == 0'
	tok=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["token"])' <"$T/stdout")
	inspect 0 valid "$tok"
	stdout_has "uses:     any number"
}

@test "mint: an empty -s or a -H with a line break is exit 2, naming the option" {
	sm 2 -c "$CONF" -s "" alice
	[ ! -s "$T/stdout" ]
	sm 2 -c "$CONF" -H $'kio\nsk' alice
	[ ! -s "$T/stdout" ]
	sm 2 -c "$CONF" -s "" alice
	error_line "-s"
	sm 2 -c "$CONF" -H $'kio\nsk' alice
	error_line "-H"
}

@test "mint --json --qr utf8: refused (exit 2), so stdout stays one JSON object" {
	sm 2 -c "$CONF" --json --qr utf8 alice
	[ ! -s "$T/stdout" ]
	usage_error "--json and --qr utf8 both write to stdout: use --qr png or svg with -o"
}

@test "mint --link: plain url gets ?sesame=, and the link inspects valid" {
	cli_conf "$T/u.conf" "url = https://login.example/sesame"
	sm 0 -c "$T/u.conf" --link alice
	[ "$(lines "$T/stdout")" = 1 ]
	[[ $output =~ ^https://login\.example/sesame\?sesame=SSM1[0-9A-HJKMNP-TV-Z]{56}$ ]]
	inspect 0 valid "$output"
}

@test "mint --link: a url with a query gets &sesame=" {
	cli_conf "$T/u.conf" "url = https://login.example/in?lang=en"
	sm 0 -c "$T/u.conf" --link alice
	[[ $output =~ ^https://login\.example/in\?lang=en\&sesame=SSM1[0-9A-HJKMNP-TV-Z]{56}$ ]]
	inspect 0 valid "$output"
}

@test "mint --link: a url ending in '#' gets #sesame=" {
	cli_conf "$T/u.conf" "url = https://login.example/#"
	sm 0 -c "$T/u.conf" --link alice
	[[ $output =~ ^https://login\.example/#sesame=SSM1[0-9A-HJKMNP-TV-Z]{56}$ ]]
	inspect 0 valid "$output"
}

@test "mint --link: param renames the parameter; --json carries the link" {
	cli_conf "$T/u.conf" "url = https://login.example/x" "param = otp"
	sm 0 -c "$T/u.conf" --link --json alice
	json_check 'd["link"] == "https://login.example/x?otp=" + d["token"]'
	link=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["link"])' <"$T/stdout")
	sm 0 -c "$T/u.conf" --inspect "$link"
	status_is valid
}

@test "mint --link without a configured url: exit 2" {
	sm 2 -c "$CONF" --link alice
	error_line "--link" "url"
}

@test "mint --url URL prints a link built from URL; a bad URL is exit 2" {
	sm 0 -c "$CONF" --url "https://other.example/go" alice
	[ "$(lines "$T/stdout")" = 1 ]
	[[ $output =~ ^https://other\.example/go\?sesame=SSM1[0-9A-HJKMNP-TV-Z]{56}$ ]]
	inspect 0 valid "$output"

	for bad in "ftp://other.example/" "https://other.example/#frag" "https://a.example/<x>" "other.example"; do
		sm 2 -c "$CONF" --url "$bad" alice
		error_line "url"
	done
}

@test "mint: -t beyond max_age_limit is exit 2" {
	sm 2 -c "$CONF" -t 8d alice
	error_line "max_age_limit"

	cli_conf "$T/lim.conf" "max_age_limit = 1h"
	sm 2 -c "$T/lim.conf" -t 2h alice
	error_line "max_age_limit"
	sm 0 -c "$T/lim.conf" -t 1h alice

	# A configured max_age above the limit is refused the same way.
	cli_conf "$T/lim2.conf" "max_age_limit = 1h" "max_age = 2h"
	sm 2 -c "$T/lim2.conf" alice
	error_line "max_age_limit"
}

@test "mint: bad -t and -n values are exit 2, naming the option" {
	for t in abc 15x "" -5m 0 1.5h 99999999999999999999d; do
		sm 2 -c "$CONF" -t "$t" alice
		error_line "-t"
	done
	for n in 256 -1 x "" 1.5 99999999999999999999; do
		sm 2 -c "$CONF" -n "$n" alice
		error_line "-n"
	done
}

@test "mint: an unknown user is exit 2, naming the user" {
	sm 2 -c "$CONF" nosuchuser
	error_line "nosuchuser" "user unknown"
}

@test "mint: root is refused (exit 1) unless allow_root = yes" {
	sm 1 -c "$CONF" root
	error_line "root" "allow_root"

	cli_conf "$T/root.conf" "allow_root = yes"
	sm 0 -c "$T/root.conf" root
	tok=$output
	[[ $tok =~ $TOKEN_RE ]]
	stderr_has "account: root (uid 0)"
	sm 0 -c "$T/root.conf" --inspect "$tok"
	status_is valid
	# Where root is not allowed, the same token is not valid.
	inspect 1 "invalid: user not allowed" "$tok"
}

@test "mint: group = sesame refuses alice and bob (exit 1) and accepts carol" {
	cli_conf "$T/g.conf" "group = sesame"
	sm 1 -c "$T/g.conf" alice
	error_line "alice" "sesame"
	sm 1 -c "$T/g.conf" bob
	error_line "bob" "sesame"
	sm 0 -c "$T/g.conf" carol
	[[ $output =~ $TOKEN_RE ]]
	sm 0 -c "$T/g.conf" --inspect "$output"
	status_is valid

	# A token minted without the group rule fails under it.
	mint alice
	sm 1 -c "$T/g.conf" --inspect "$TOK"
	status_is "invalid: user not allowed"
}

# ---- inspecting ----

@test "inspect: a fresh token is valid; inspecting twice does not use it up" {
	mint alice
	inspect 0 valid "$TOK"
	stdout_has "account:  alice (uid 1501)"
	stdout_has "uses:     1, 0 used"
	stdout_has "service:  any"
	stdout_has "host:     any"
	grep -qE '^issued: +.+\([0-9T:-]+Z\)$' "$T/stdout"
	grep -qE '^expires: +.+\([0-9T:-]+Z\)$' "$T/stdout"
	inspect 0 valid "$TOK"
	stdout_has "uses:     1, 0 used"
}

@test "inspect: garbage is malformed (exit 1)" {
	for junk in "hello" "SSM1" "SSM1ABC" "correct horse battery staple" "https://login.example/?x=1"; do
		inspect 1 "invalid: malformed" "$junk"
	done
}

@test "inspect: one changed character in the tag is a bad signature (exit 1)" {
	mint alice
	pos=57
	c=${TOK:$pos:1}
	if [ "$c" = A ]; then r=B; else r=A; fi
	forged=${TOK:0:$pos}$r${TOK:$((pos + 1))}
	[ "$forged" != "$TOK" ]
	inspect 1 "invalid: bad signature" "$forged"
	# The genuine one is untouched by that.
	inspect 0 valid "$TOK"
}

@test "inspect: an expired token is rejected (exit 1)" {
	mint -t 1s alice
	sleep 2
	inspect 1 "invalid: expired" "$TOK"
}

@test "inspect: changing the password kills the user's tokens, not others'" {
	retry_on_hint_collision
	mint alice
	a=$TOK
	mint bob
	b=$TOK
	cli_set_hash alice '$y$j9T$newsalt$newhashnewhashnewhashnewhashnewh'
	inspect 1 "invalid: password changed" "$a"
	inspect 0 valid "$b"
}

@test "inspect: locking the password (a '!' prefix) suspends the user's tokens, and says so" {
	mint alice
	old=$(awk -F: '$1 == "alice" { print $2 }' "$T/shadow")
	cli_set_hash alice "!$old"
	inspect 1 "invalid: account locked" "$TOK"
	[[ $output == *"note:     the account is locked: this token is suspended"*"usermod -U"* ]]
	sm 1 -c "$CONF" --json --inspect "$TOK"
	json_check 'd["reason"] == "account locked" and d["suspended"] is True'
	cli_set_hash alice "$old"
	inspect 0 "valid" "$TOK"
}

@test "inspect: a token for another host is wrong host on testhost (exit 1)" {
	retry_on_hint_collision
	mint -H other alice
	inspect 1 "invalid: wrong host" "$TOK"
	inspect 0 valid -H other "$TOK"
	mint -H testhost alice
	inspect 0 valid "$TOK"
	stdout_has "host:     testhost"
}

@test "inspect: a service-scoped token is valid for its service, wrong service for another" {
	retry_on_hint_collision
	mint -s sshd alice
	inspect 0 valid -s sshd "$TOK"
	inspect 1 "invalid: wrong service" -s login "$TOK"
}

@test "inspect: a revoked token is revoked (exit 1)" {
	mint alice
	id=$(sed -n 's/^id:      //p' "$T/stderr")
	[ -n "$id" ]
	sm 0 -c "$CONF" --revoke "$TOK"
	stderr_has "revoked token $id of alice"
	inspect 1 "invalid: revoked" "$TOK"
	# Revoking again is fine, and a link or stdin works as well.
	sm 0 -c "$CONF" --revoke "$TOK"
	mint alice
	sm 0 -c "$CONF" --revoke - <<<"  $TOK  "
	inspect 1 "invalid: revoked" "$TOK"
}

@test "inspect: --revoke-user revokes older tokens; one minted right after is valid" {
	mint alice
	old=$TOK
	mint bob
	b=$TOK
	sm 0 -c "$CONF" --revoke-user alice
	stderr_has "alice (uid 1501)"
	inspect 1 "invalid: revoked" "$old"
	inspect 0 valid "$b"
	mint alice
	inspect 0 valid "$TOK"
}

@test "inspect: a deleted account is user unknown; a renamed one (same uid) is invalid" {
	mint bob
	sed -i 's/^bob:/dave:/' "$T/passwd"
	sed -i 's/^bob:/dave:/' "$T/shadow"
	sm 1 -c "$CONF" --inspect "$TOK"
	grep -q '^status:   invalid: ' "$T/stdout"
	[ ! -s "$T/stderr" ]
	sed -i '/^dave:/d' "$T/passwd"
	inspect 1 "invalid: user unknown" "$TOK"
}

@test "inspect: with bind_password = no a token survives a password change" {
	retry_on_hint_collision
	cli_conf "$T/nb.conf" "bind_password = no"
	sm 0 -c "$T/nb.conf" alice
	tok=$output
	cli_set_hash alice '$y$j9T$newsalt$newhashnewhashnewhashnewhashnewh'
	sm 0 -c "$T/nb.conf" --inspect "$tok"
	status_is valid
	# Checked with binding on, the unbound token is a changed binding.
	inspect 1 "invalid: password changed" "$tok"
}

@test "inspect and mint: a missing key file is exit 2 naming it" {
	mint alice
	mv "$T/key" "$T/key.away"
	sm 2 -c "$CONF" --inspect "$TOK"
	stderr_line "$T/key"
	status_is "invalid: key unavailable"
	sm 2 -c "$CONF" alice
	error_line "$T/key"
	sm 2 -c "$CONF" --revoke "$TOK"
	error_line "$T/key"
}

@test "inspect: a missing shadow entry is exit 2, and the message names the account" {
	mint bob
	sed -i '/^bob:/d' "$T/shadow"
	sm 2 -c "$CONF" --inspect "$TOK"
	status_is "invalid: shadow entry unavailable"
	stderr_line "bob"
}

@test "inspect: '-' reads the token from stdin" {
	mint alice
	sm 0 -c "$CONF" --inspect - <<<"$TOK"
	status_is valid
	stdout_has "account:  alice (uid 1501)"
	sm 1 -c "$CONF" --inspect - </dev/null
	status_is "invalid: malformed"
}

@test "inspect: a link wrapped in <>, spaces and a line break reads as the token" {
	cli_conf "$T/u.conf" "url = https://login.example/in?lang=en"
	sm 0 -c "$T/u.conf" --link alice
	link=$output
	tok=${link##*sesame=}
	sm 0 -c "$T/u.conf" --inspect "$tok"
	cp "$T/stdout" "$T/plain"

	wrapped=$(printf '  <%s\n%s>  \n' "${link:0:50}" "${link:50}")
	sm 0 -c "$T/u.conf" --inspect "$wrapped"
	cmp "$T/plain" "$T/stdout"
	printf '  <%s\n%s>  \n' "${link:0:50}" "${link:50}" >"$T/in"
	sm 0 -c "$T/u.conf" --inspect - <"$T/in"
	cmp "$T/plain" "$T/stdout"

	# Case and readability spaces or hyphens do not matter either.
	lower=$(tr 'A-Z' 'a-z' <<<"$tok")
	sm 0 -c "$T/u.conf" --inspect "$lower"
	cmp "$T/plain" "$T/stdout"
	spaced=$(sed 's/..../& /g; s/ $//' <<<"$tok")
	sm 0 -c "$T/u.conf" --inspect "$spaced"
	cmp "$T/plain" "$T/stdout"
	dashed=$(sed 's/..../&-/g; s/-$//' <<<"$tok")
	sm 0 -c "$T/u.conf" --inspect "$dashed"
	cmp "$T/plain" "$T/stdout"
}

@test "inspect --json: parses, with valid and reason" {
	mint alice
	sm 0 -c "$CONF" --json --inspect "$TOK"
	json_check 'd["valid"] is True' 'd["reason"] == "valid"' 'd["user"] == "alice"' \
		'd["uid"] == 1501' 'd["uses"] == 1' 'd["used"] == 0' 'd["key_id"] == 1' \
		'd["service_scoped"] is False' 'd["host_scoped"] is False' \
		'd["expires"] - d["issued"] == 900'
	python3_ok=$("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print("ok")' <"$T/stdout")
	[ "$python3_ok" = ok ]

	sm 0 -c "$CONF" --revoke "$TOK"
	sm 1 -c "$CONF" --json --inspect "$TOK"
	json_check 'd["valid"] is False' 'd["reason"] == "revoked"'
	sm 1 -c "$CONF" --json --inspect "garbage"
	json_check 'd["valid"] is False' 'd["reason"] == "malformed"'
}

@test "inspect: an unusable store is exit 2 naming the directory (fails closed)" {
	mint alice
	cli_conf "$T/m.conf"
	sed -i "s|^state_dir = .*|state_dir = $T/missing|" "$T/m.conf"
	sm 2 -c "$T/m.conf" --inspect "$TOK"
	stderr_line "$T/missing"
	status_is "invalid: store unavailable"

	# A store directory others can enter is refused too.
	chmod 0755 "$T/state"
	sm 2 -c "$CONF" --inspect "$TOK"
	stderr_line "$T/state"
	chmod 0700 "$T/state"
	inspect 0 valid "$TOK"
}

@test "inspect: uses recorded in the store count; a token is used up after its uses" {
	# A redemption's record is written here in the store's documented
	# format (common/store.c), so this runs without the module.
	mint -n 2 alice
	store_record_use "$TOK"
	inspect 0 valid "$TOK"
	stdout_has "uses:     2, 1 used"
	store_record_use "$TOK"
	inspect 1 "invalid: used up" "$TOK"
	stdout_has "uses:     2, 2 used"

	mint alice
	store_record_use "$TOK"
	inspect 1 "invalid: used up" "$TOK"
	stdout_has "uses:     1, 1 used"
}

@test "inspect: a 1-use token redeemed through the module is used up" {
	if [ -z "${PAM_SESAME:-}" ] || [ ! -e "$PAM_SESAME" ] ||
		[ -z "${SESAME_PAM_DRIVER:-}" ] || [ ! -x "$SESAME_PAM_DRIVER" ]; then
		skip "no PAM driver (set PAM_SESAME and SESAME_PAM_DRIVER)"
	fi
	pam_wrapper=$(find_lib pam_wrapper libpam_wrapper.so) || skip "libpam_wrapper.so not found"
	mkdir "$T/pam.d"
	printf 'auth required %s conf=%s\n' "$PAM_SESAME" "$CONF" >"$T/pam.d/login"
	printf 'auth required pam_deny.so\n' >"$T/pam.d/other"
	mint alice
	LD_PRELOAD="$SAN_PRELOAD$pam_wrapper:$NSS_WRAPPER_LIB" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/pam.d" PAM_WRAPPER_DISABLE_DEEPBIND=1 \
		"$SESAME_PAM_DRIVER" login alice "$TOK" >"$T/pam.out" 2>"$T/pam.err" || true
	grep -q '^rc=0 ' "$T/pam.out" || fail "redemption failed:" "$(cat "$T/pam.out" "$T/pam.err")"
	inspect 1 "invalid: used up" "$TOK"
	stdout_has "uses:     1, 1 used"
}

# ---- revoke, gc ----

@test "revoke: a forged or malformed token is exit 1, nothing revoked" {
	mint alice
	forged=${TOK:0:57}$([ "${TOK:57:1}" = A ] && echo B || echo A)${TOK:58}
	sm 1 -c "$CONF" --revoke "$forged"
	error_line "nothing revoked" "bad signature"
	sm 1 -c "$CONF" --revoke "not a token"
	error_line "nothing revoked" "malformed"
	inspect 0 valid "$TOK"
}

@test "revoke-user: an unknown user is exit 2, naming the user" {
	sm 2 -c "$CONF" --revoke-user nosuchuser
	error_line "nosuchuser"
}

@test "gc: an empty store is exit 0" {
	sm 0 -c "$CONF" --gc
	stderr_has "gc: removed 0 expired records"
	[ ! -s "$T/stdout" ]
}

@test "gc: records of expired tokens outlive them by the grace period" {
	# The removal after the grace (a day) is in the store's unit test,
	# which passes the clock in.
	mint -t 1s alice
	short=$TOK
	sm 0 -c "$CONF" --revoke "$short"
	mint alice
	long=$TOK
	sm 0 -c "$CONF" --revoke "$long"
	sleep 2
	sm 0 -c "$CONF" --gc
	stderr_has "gc: removed 0 expired records, kept 4" # 2 revocations, 2 ledger records
	inspect 1 "invalid: revoked" "$long"
	inspect 1 "invalid: expired" "$short"
	[ -s "$T/state/format" ] || fail "gc did not prepare the store"
	[ "$(ls "$T/state/uses" | wc -l)" = 4096 ] || fail "gc did not make every bucket file"
}

# ---- QR codes ----

@test "qr utf8: a block of half-block characters, then the token line" {
	mint --qr utf8 alice
	last=$(tail -n 1 "$T/stdout")
	[[ $last =~ $TOKEN_RE ]]
	head -n -1 "$T/stdout" >"$T/qr"
	[ "$(lines "$T/qr")" -ge 15 ]
	# Only full, upper-half, lower-half blocks and spaces, in equal rows.
	if grep -vE '^(█|▀|▄| )+$' "$T/qr"; then
		fail "lines above other than blocks and spaces"
	fi
	"$PYTHON" - "$T/qr" <<-'END'
	import sys
	rows = open(sys.argv[1], encoding="utf-8").read().splitlines()
	assert len({len(r) for r in rows}) == 1, "rows of different widths"
	assert any("▀" in r or "▄" in r for r in rows), "no half blocks"
	END
	inspect 0 valid "$last"
}

@test "qr png -o FILE: a PNG, mode 0600, holding the printed token" {
	mint --qr png -o "$T/code.png" alice
	[ "$(lines "$T/stdout")" = 1 ]
	[[ $TOK =~ $TOKEN_RE ]]
	[ "$(mode "$T/code.png")" = 600 ]
	[ "$(head -c 4 "$T/code.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ]
	stderr_has "$T/code.png"
	command -v zbarimg >/dev/null || skip "zbarimg not installed"
	[ "$(zbarimg -q --raw "$T/code.png" 2>/dev/null)" = "$TOK" ]
}

@test "qr png with --link: the code holds the link" {
	cli_conf "$T/u.conf" "url = https://login.example/in"
	sm 0 -c "$T/u.conf" --link --qr png -o "$T/link.png" alice
	link=$output
	[[ $link == https://login.example/in\?sesame=SSM1* ]]
	[ "$(mode "$T/link.png")" = 600 ]
	command -v zbarimg >/dev/null || skip "zbarimg not installed"
	[ "$(zbarimg -q --raw "$T/link.png" 2>/dev/null)" = "$link" ]
}

@test "qr svg -o FILE: an SVG, mode 0600" {
	mint --qr svg -o "$T/code.svg" alice
	[[ $TOK =~ $TOKEN_RE ]]
	[ "$(mode "$T/code.svg")" = 600 ]
	grep -q '<svg' "$T/code.svg"
	grep -q '</svg>' "$T/code.svg"
	"$PYTHON" -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T/code.svg"
}

@test "qr: an existing or symlinked -o FILE is refused (exit 2) and left untouched" {
	for fmt in png svg; do
		echo keep >"$T/exists.$fmt"
		chmod 0644 "$T/exists.$fmt"
		sm 2 -c "$CONF" --qr "$fmt" -o "$T/exists.$fmt" alice
		error_line "$T/exists.$fmt"
		[ "$(cat "$T/exists.$fmt")" = keep ]
		[ "$(mode "$T/exists.$fmt")" = 644 ]
	done
	ln -s "$T/target.png" "$T/dangling.png"
	sm 2 -c "$CONF" --qr png -o "$T/dangling.png" alice
	error_line "$T/dangling.png"
	[ ! -e "$T/target.png" ]
}

@test "qr: png or svg without -o, -o without them, or an unknown format is exit 2" {
	sm 2 -c "$CONF" --qr png alice
	usage_error "--qr png and --qr svg need -o FILE, and -o needs one of them"
	sm 2 -c "$CONF" --qr svg alice
	usage_error "--qr png and --qr svg need -o FILE, and -o needs one of them"
	sm 2 -c "$CONF" -o "$T/x.png" alice
	usage_error "--qr png and --qr svg need -o FILE, and -o needs one of them"
	sm 2 -c "$CONF" --qr bmp -o "$T/x.bmp" alice
	usage_error "--qr takes utf8, png or svg"
	[ ! -e "$T/x.png" ]
	[ ! -e "$T/x.bmp" ]
}

# ---- mail ----

@test "mail: a complete message with the link on its own line goes to sendmail; stdout stays empty" {
	cli_conf "$T/mail.conf" "url = https://login.example/sesame" \
		"sendmail = $(command -v tee) $T/mail.out"
	sm 0 -c "$T/mail.conf" --mail alice@example.org alice
	[ ! -s "$T/stdout" ]
	stderr_has "alice@example.org"
	stderr_has "account: alice (uid 1501)"
	[ -s "$T/mail.out" ]
	"$PYTHON" - "$T/mail.out" <<-'END'
	import email, email.utils, re, sys
	raw = open(sys.argv[1], encoding="utf-8").read()
	msg = email.message_from_string(raw)
	for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"):
	    assert msg[h], "no %s header" % h
	assert msg["From"] == "root@testhost", msg["From"]
	assert msg["To"] == "alice@example.org", msg["To"]
	assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
	assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", msg["Message-ID"]), msg["Message-ID"]
	assert msg["MIME-Version"] == "1.0"
	assert msg.get_content_type() == "text/plain"
	assert msg.get_content_charset().lower() == "utf-8"
	body = msg.get_payload()
	links = re.findall(r"(?m)^https://login\.example/sesame\?sesame=SSM1[0-9A-HJKMNP-TV-Z]{56}$", body)
	assert len(links) == 1, "link not on a line of its own: %r" % body
	assert "forward" in body.lower(), "no warning not to forward"
	print(links[0])
	END
	link=$(grep -E '^https://login\.example/sesame\?sesame=' "$T/mail.out")
	printf '%s\n' "${link##*=}" >>"$T/secrets"
	# Mailing does not use the token up.
	sm 0 -c "$T/mail.conf" --inspect "$link"
	status_is valid
}

@test "mail: mail_from sets From and the envelope sender (-f); without a url the mail carries the bare token" {
	cli_conf "$T/mail.conf" "mail_from = sesame@host.example" \
		"sendmail = $BATS_TEST_DIRNAME/fake-sendmail $T/mail.out"
	sm 0 -c "$T/mail.conf" --mail bob@example.org bob
	grep -q '^From: sesame@host.example' "$T/mail.out"
	grep -qx 'args: -f sesame@host.example' "$T/mail.out.who"
	grep -qE '^SSM1[0-9A-HJKMNP-TV-Z]{56}$' "$T/mail.out"
	grep -oE '^SSM1[0-9A-HJKMNP-TV-Z]{56}$' "$T/mail.out" >>"$T/secrets"
}

@test "mail: header injection, a space or two @ is exit 2 and nothing is sent" {
	cli_conf "$T/mail.conf" "url = https://login.example/sesame" \
		"sendmail = $(command -v tee) $T/mail.out"
	for addr in $'a@b.example\nBcc: x@y.example' 'a b@example.org' 'a@b@example.org' \
		'<a@b.example>' 'a@b.example, c@d.example' ''; do
		sm 2 -c "$T/mail.conf" --mail "$addr" alice
		error_line "--mail"
		[ ! -e "$T/mail.out" ]
	done
}

@test "mail: a failing sendmail is exit 2, not sent" {
	cli_conf "$T/mail.conf" "sendmail = /bin/false"
	sm 2 -c "$T/mail.conf" --mail alice@example.org alice
	error_line "not sent" "alice@example.org"
}

@test "mail: a relative sendmail command is a config error (exit 2)" {
	cli_conf "$T/mail.conf" "sendmail = tee $T/mail.out"
	sm 2 -c "$T/mail.conf" --mail alice@example.org alice
	error_line "$T/mail.conf:3:" "sendmail"
	[ ! -e "$T/mail.out" ]
}

# ---- configuration ----

@test "config: an unknown key is exit 2 with FILE:LINE: unknown key" {
	cli_conf "$T/c.conf" "# a comment" "" "bogus = 1"
	sm 2 -c "$T/c.conf" alice
	error_line "$T/c.conf:5: unknown key"
	# Every mode reads the config first.
	sm 2 -c "$T/c.conf" --inspect whatever
	error_line "$T/c.conf:5: unknown key"
	sm 2 -c "$T/c.conf" --gc
	error_line "$T/c.conf:5: unknown key"
}

@test "config: bad values name FILE:LINE" {
	for line in "max_age = 5x" "max_age_limit = 30d" "bind_password = maybe" \
		"state_dir = relative/dir" "url = ftp://x.example" "param = a b" "no equals sign"; do
		cli_conf "$T/c.conf" "$line"
		sm 2 -c "$T/c.conf" alice
		error_line "$T/c.conf:3:"
	done
	cli_conf "$T/c.conf" "max_age = 5x"
	sm 2 -c "$T/c.conf" alice
	error_line "$T/c.conf:3:" "max_age"
}

@test "config: comments, blank lines and blanks around = are fine" {
	cli_conf "$T/c.conf" "# lifetime" "   " "  max_age   =   10m  " "	# indented comment"
	sm 0 -c "$T/c.conf" --json alice
	json_check 'd["lifetime"] == 600'
}

@test "config: a '#' after blank space starts a comment; a '#' right after text is part of the value" {
	cli_conf "$T/c.conf" "max_age = 10m   # ten minutes" "url = https://login.example/s/#	# fragment form"
	sm 0 -c "$T/c.conf" --json --link alice
	json_check 'd["lifetime"] == 600 and d["link"].startswith("https://login.example/s/#sesame=SSM1")'
	# what sesame.conf(5) and the example say about it
	grep -q "after blank space" "$BATS_TEST_DIRNAME/../../man/sesame.conf.5"
	[ "$(grep -c "part of the value, so a comment cannot follow" "$BATS_TEST_DIRNAME/../../man/sesame.conf.5" || true)" -eq 0 ]
	grep -q 'after blank space' "$BATS_TEST_DIRNAME/../../packaging/sesame.conf.example"
}

@test "key_shared = yes: minting a limited-use token without -H warns; -H or -n 0 does not" {
	cli_conf "$T/shared.conf" "key_shared = yes"
	sm 0 -c "$T/shared.conf" alice
	[[ $stderr == *"warning: key_shared = yes and no -H: this token works 1 time on every host"* ]]
	sm 0 -c "$T/shared.conf" -H testhost alice
	[[ $stderr != *warning* ]]
	sm 0 -c "$T/shared.conf" -n 0 alice
	[[ $stderr != *warning* ]]
	sm 0 -c "$CONF" alice
	[[ $stderr != *warning* ]]
}

@test "config: a group-writable config (0664) is refused" {
	cli_conf "$T/c.conf"
	chmod 0664 "$T/c.conf"
	sm 2 -c "$T/c.conf" alice
	error_line "$T/c.conf"
	chmod 0602 "$T/c.conf"
	sm 2 -c "$T/c.conf" alice
	error_line "$T/c.conf"
}

@test "config: key_file inside state_dir is refused" {
	cli_conf "$T/c.conf" "key_file = $T/state/key"
	sm 2 -c "$T/c.conf" alice
	error_line "key_file" "state_dir"
}

@test "config: SESAME_CONF is used when -c is absent; -c wins over it" {
	cli_conf "$T/env.conf" "url = https://env.example/"
	export SESAME_CONF=$T/env.conf
	sm 0 --link alice
	[[ $output =~ ^https://env\.example/\?sesame=SSM1 ]]
	sm 2 -c "$CONF" --link alice
	error_line "--link"

	cli_conf "$T/bad.conf" "bogus = 1"
	export SESAME_CONF=$T/bad.conf
	sm 2 alice
	error_line "$T/bad.conf:3: unknown key"
	sm 0 -c "$CONF" alice
}

@test "config: a missing -c file (or SESAME_CONF file) is exit 2, naming it" {
	sm 2 -c "$T/nope.conf" alice
	error_line "$T/nope.conf"
	export SESAME_CONF=$T/nope-env.conf
	sm 2 --inspect whatever
	error_line "$T/nope-env.conf"
}

# ---- usage ----

@test "usage: no arguments is exit 2 with the usage" {
	sm 2
	usage_error "missing USER"
}

@test "usage: two modes, or options of another mode, are exit 2" {
	sm 2 -c "$CONF" --keygen --gc
	usage_error "choose one of --keygen, --inspect, --list, --history, --revoke, --revoke-user, --gc, --migrate-store"
	sm 2 -c "$CONF" --inspect x --revoke y
	usage_error "choose one of --keygen, --inspect, --list, --history, --revoke, --revoke-user, --gc, --migrate-store"
	sm 2 -c "$CONF" --gc --migrate-store /var/lib/sesame
	usage_error "choose one of --keygen, --inspect, --list, --history, --revoke, --revoke-user, --gc, --migrate-store"
	sm 2 -c "$CONF" --migrate-store /var/lib/sesame alice
	usage_error "unexpected USER operand"
	sm 2 -c "$CONF" --gc --source web2
	usage_error "--source goes with --migrate-store"
	sm 2 -c "$CONF" --inspect x alice
	usage_error "unexpected USER operand"
	sm 2 -c "$CONF" --gc -t 1h
	usage_error "minting options given without a USER to mint for"
	sm 2 -c "$CONF" --revoke-user alice -s sshd
	usage_error "-s and -H go with minting, --inspect or --revoke"
	sm 2 -c "$CONF" --gc --json
	usage_error "--json goes with minting, --inspect, --list or --history"
	sm 2 -c "$CONF" --link --url https://x.example/ alice
	usage_error "--link and --url exclude each other"
	sm 2 -c "$CONF" alice bob
	usage_error "too many operands"
	sm 2 -c "$CONF" --bogus alice
	usage_error "bad option"
	stderr_has "--bogus"
	sm 2 -c
	usage_error "bad option"
	sm 2 -c "$CONF" --qr
	usage_error "bad option"
}

@test "usage: --rotate without --keygen is exit 2" {
	before=$(sha256sum <"$T/key")
	sm 2 -c "$CONF" --rotate
	usage_error "--rotate goes with --keygen"
	[ "$(sha256sum <"$T/key")" = "$before" ]
}

@test "usage: --stage, --promote and --group go with --keygen; bad group names" {
	before=$(sha256sum <"$T/key")
	sm 2 -c "$CONF" --group web alice
	usage_error "--stage, --promote and --group go with --keygen"
	sm 2 -c "$CONF" --keygen --stage --promote
	usage_error "choose one of --rotate, --stage, --promote"
	sm 2 -c "$CONF" --keygen --group web -H web1
	usage_error "--group and -H exclude each other"
	sm 2 -c "$CONF" --keygen --group ../web
	grep -q "expected 1 to 63 letters" "$T/stderr"
	sm 2 -c "$CONF" --keygen --promote
	grep -q "no staged (verify-only) key to promote" "$T/stderr"
	[ "$(sha256sum <"$T/key")" = "$before" ]
}

@test "usage: --help is exit 0 with the usage on stdout" {
	for h in --help -h; do
		sm 0 "$h"
		[ "$(head -n 1 "$T/stdout")" = "usage: sesame-mint [-c FILE] --keygen [--rotate | --stage | --promote]" ]
		for opt in --keygen --rotate --link --url --qr --mail --json --inspect --revoke \
			--revoke-user --gc --version; do
			stdout_has "$opt"
		done
		[ ! -s "$T/stderr" ]
	done
}

@test "usage: --version prints sesame-mint and the project version" {
	sm 0 --version
	[[ $output =~ ^sesame-mint\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	[ ! -s "$T/stderr" ]
	want=$(sed -n "s/.*version *: *'\([0-9.]*\)'.*/\1/p" "$BATS_TEST_DIRNAME/../../meson.build" | head -n 1)
	if [ -n "$want" ]; then
		[ "$output" = "sesame-mint $want" ]
	fi
	sm 0 -V
	[[ $output =~ ^sesame-mint\ [0-9] ]]
}
