#!/usr/bin/env bats
# Host groups and directory accounts across simulated hosts, without a
# shared store: every host has its own config, key files, shadow file and
# store, and runs pamtester in its own UTS namespace with its own host
# name (unshare --uts as root), so the module's gethostname() is real.
# The fleet-wide store (one-use across hosts, --revoke-user reaching every
# host) is not here: --revoke-user is tested on one host only.

load pam_helpers

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root for unshare --uts"
	unshare --uts -- true 2>/dev/null || skip "unshare --uts not permitted"
	pam_suite_setup
	T=$BATS_TEST_TMPDIR
	LOG=$T/log
	: >"$LOG"
	export T LOG
	export PAM_WRAPPER=1 PAM_WRAPPER_DEBUGLEVEL=2 PAM_WRAPPER_DISABLE_DEEPBIND=1
	unset NSS_WRAPPER_HOSTNAME
	host_setup issuer "" auto
}

teardown() {
	pam_test_teardown
}

# host_setup NAME GROUPS BIND: a simulated host in $T/NAME. alice has a
# hash of her own on each host (another salt); dirk is a directory
# account: a passwd entry and no shadow entry.
host_setup() {
	local h=$T/$1
	mkdir -p "$h/pam.d"
	mkdir -m 0700 "$h/state"
	fake_accounts "$h"
	echo 'dirk:x:1600:1600:Dirk from LDAP:/home/dirk:/bin/sh' >>"$h/passwd"
	echo 'dirk:x:1600:' >>"$h/group"
	sed -i "s/alicesalt/salt-$1/" "$h/shadow"
	printf 'key_file = %s\nkey_dir = %s\nstate_dir = %s\nhost_groups = %s\nbind_password = %s\n' \
		"$h/host.key" "$h/keys.d" "$h/state" "$2" "$3" >"$h/sesame.conf"
	chmod 0644 "$h/sesame.conf"
	printf 'auth required %s conf=%s debug\n' "$PAM_SESAME" "$h/sesame.conf" >"$h/pam.d/login"
	echo 'auth required pam_deny.so' >"$h/pam.d/other"
	on "$1" "$SESAME_MINT" -c "$h/sesame.conf" --keygen 2>>"$T/mint.log"
}

# on HOST COMMAND...: run COMMAND as host HOST would (its host name, its
# accounts), with nss_wrapper preloaded (and pam_wrapper for pamtester).
on() {
	local h=$T/$1 preload="$SAN_PRELOAD$NSS_WRAPPER_LIB"
	shift
	[ "$1" = pamtester ] && preload="$SAN_PRELOAD$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB"
	NSS_WRAPPER_PASSWD=$h/passwd NSS_WRAPPER_GROUP=$h/group NSS_WRAPPER_SHADOW=$h/shadow \
		PAM_WRAPPER_SERVICE_DIR=$h/pam.d PRELOAD=$preload \
		unshare --uts -- sh -c 'hostname "$1" && shift && LD_PRELOAD=$PRELOAD exec "$@"' \
		sh "${h##*/}" "$@"
}

# mint_on HOST ARGS...: sesame-mint on HOST with HOST's config.
mint_on() {
	local host=$1
	shift
	on "$host" "$SESAME_MINT" -c "$T/$host/sesame.conf" "$@" 2>>"$T/mint.log"
}

# login_on HOST USER INPUT: pamtester's login service on HOST.
login_on() {
	printf '%s\n' "$3" | on "$1" pamtester -v login "$2" authenticate >>"$LOG" 2>&1
}

# give_key FROM TO FILE: copy a key file the way config management would.
give_key() {
	mkdir -p -m 0700 "$T/$2/keys.d"
	install -m 0600 "$T/$1/keys.d/$3" "$T/$2/keys.d/$3"
}

@test "a web token: accepted on web hosts (each with its own hash), refused on a db host" {
	mint_on issuer --keygen --group web
	mint_on issuer --keygen --group db
	host_setup web1 "web, eu-west" auto
	host_setup web2 web yes
	host_setup db1 db auto
	give_key issuer web1 web.group.key
	give_key issuer web2 web.group.key
	give_key issuer db1 db.group.key
	tok=$(mint_on issuer -H web alice)
	[ ${#tok} -le 60 ]
	grep -q 'host:    web (host group)' "$T/mint.log"
	grep -q 'password: not bound to a password' "$T/mint.log"
	run login_on db1 alice "$tok"
	[ "$status" -ne 0 ]
	expect_result 'result=refused reason="bad signature"'
	login_on web1 alice "$tok"
	expect_result 'result=success'
	login_on web2 alice "$tok" # another hash for alice there: group tokens bind to name and uid
	expect_result 'result=success'
	run login_on web1 alice "$tok" # used up on web1 (its own store)
	[ "$status" -ne 0 ]
	expect_result 'reason="used up"'
	run on web1 "$SESAME_MINT" -c "$T/web1/sesame.conf" --inspect "$tok"
	[[ $output == *"host:     group web"* ]]
	[[ $output == *"password: not bound to a password"* ]]
}

@test "the ledger records a group token's scope as the group: --list, --history, --json" {
	mint_on issuer --keygen --group web
	host_setup web1 web auto
	tok=$(mint_on issuer -H web -s sshd -m "group ticket" alice)
	id=$(mint_on issuer --inspect "$tok" | awk '$1 == "id:" { print $2 }')
	host_tok=$(mint_on issuer -H web1 alice)
	host_id=$(mint_on issuer --inspect "$host_tok" | awk '$1 == "id:" { print $2 }')
	mint_on issuer --list >"$T/list"
	grep -E "^$id +alice .* service sshd, group web +" "$T/list"
	grep -E "^$host_id +alice .* host web1 +" "$T/list"
	mint_on issuer --history "$id" | grep -qx 'scope:    service sshd, group web'
	mint_on issuer --history "$host_id" | grep -qx 'scope:    host web1'
	mint_on issuer --list --json >"$T/list.json"
	python3 - "$T/list.json" "$id" "$host_id" <<-'END'
	import json, sys
	d = {x["id"]: x for x in json.load(open(sys.argv[1]))}
	assert d[sys.argv[2]]["scope"] == "service sshd, group web", d
	assert d[sys.argv[3]]["scope"] == "host web1", d
	END
	mint_on issuer --history "$id" --json | python3 -c \
		'import json, sys; assert json.load(sys.stdin)["scope"] == "service sshd, group web"'
}

@test "a host holding only db keys cannot mint a token that a web host accepts" {
	mint_on issuer --keygen --group web
	mint_on issuer --keygen --group db
	host_setup web1 web auto
	host_setup db1 db auto
	give_key issuer web1 web.group.key
	give_key issuer db1 db.group.key
	# asked for a web token, the db host has no web key to sign with
	run mint_on db1 -H group:web alice
	[ "$status" -eq 2 ]
	grep -q 'web.group.key' "$T/mint.log"
	# an attacker on db1 passes the db key off as web's: web hosts refuse
	cp "$T/db1/keys.d/db.group.key" "$T/db1/keys.d/web.group.key"
	forged=$(mint_on db1 -H group:web alice)
	run login_on web1 alice "$forged"
	[ "$status" -ne 0 ]
	expect_result 'result=refused reason="bad signature"'
	# nor can it use its own host key for a web-scoped token
	forged=$(mint_on db1 -H host:web alice)
	run login_on web1 alice "$forged"
	[ "$status" -ne 0 ]
	expect_result 'result=refused'
	# its own db token is refused on web1 too
	dbtok=$(mint_on db1 -H db alice)
	run login_on web1 alice "$dbtok"
	[ "$status" -ne 0 ]
	expect_result 'result=refused'
}

@test "a host and a group of the same name are different scopes" {
	mint_on issuer --keygen --group web
	mint_on issuer --keygen -H web
	host_setup web db auto                 # a host named web, in group db
	host_setup web1 web auto
	give_key issuer web1 web.group.key
	install -m 0600 "$T/issuer/keys.d/web.host.key" "$T/web/host.key"
	# dirk, a directory account, is bound to name and uid on every host,
	# so the issuer can mint a host token for him with host web's key
	host_tok=$(mint_on issuer -H host:web dirk)
	group_tok=$(mint_on issuer -H group:web dirk)
	run login_on web dirk "$group_tok"
	[ "$status" -ne 0 ]
	run login_on web1 dirk "$host_tok"
	[ "$status" -ne 0 ]
	login_on web dirk "$host_tok"
	expect_result 'result=success'
	login_on web1 dirk "$group_tok"
	expect_result 'result=success'
	# a host token binds to the minting host's hash: alice's differs on web
	alice_tok=$(mint_on issuer -H host:web alice)
	run login_on web alice "$alice_tok"
	[ "$status" -ne 0 ]
	expect_hinted_reason "password changed"
}

@test "a directory account (passwd entry, no shadow entry) logs in with auto, is refused with yes" {
	mint_on issuer --keygen --group web
	host_setup web1 web auto
	host_setup web2 web yes
	give_key issuer web1 web.group.key
	give_key issuer web2 web.group.key
	tok=$(mint_on issuer -H web -n 0 dirk)
	login_on web1 dirk "$tok"
	expect_result 'result=success'
	run login_on web2 dirk "$tok"
	[ "$status" -ne 0 ]
	expect_result 'reason="shadow entry unavailable"'
	# a host token for dirk on an auto host: bound to name and uid, and said so
	sed -i 's/^bind_password = .*/bind_password = auto/' "$T/issuer/sesame.conf"
	json=$(mint_on issuer --json dirk)
	[[ $json == *'"password_bound":false'* ]]
	grep -q 'password: not bound to a password' "$T/mint.log"
	run on issuer "$SESAME_MINT" -c "$T/issuer/sesame.conf" --inspect "$(sed 's/.*"token":"\([^"]*\)".*/\1/' <<<"$json")"
	[ "$status" -eq 0 ]
	[[ $output == *"password: not bound to a password"* ]]
	# with yes, the issuer refuses to mint for him, as before
	sed -i 's/^bind_password = .*/bind_password = yes/' "$T/issuer/sesame.conf"
	run mint_on issuer dirk
	[ "$status" -ne 0 ]
	grep -q 'user dirk: shadow entry unavailable' "$T/mint.log"
	# alice has a hash: auto binds her host tokens to it, as yes does
	sed -i 's/^bind_password = .*/bind_password = auto/' "$T/issuer/sesame.conf"
	json=$(mint_on issuer --json alice)
	[[ $json == *'"password_bound":true'* ]]
}

@test "--revoke-user ends a group token (on this host: no shared store yet)" {
	mint_on issuer --keygen --group web
	host_setup web1 web auto
	give_key issuer web1 web.group.key
	tok=$(mint_on issuer -H web -n 0 dirk)
	login_on web1 dirk "$tok"
	expect_result 'result=success'
	mint_on web1 --revoke-user dirk
	run login_on web1 dirk "$tok"
	[ "$status" -ne 0 ]
	expect_result 'reason="revoked"'
}

@test "fleet rotation: a staged key verifies everywhere before it signs" {
	mint_on issuer --keygen --group web
	host_setup web1 web auto
	give_key issuer web1 web.group.key
	old=$(mint_on issuer -H web -n 0 alice)
	mint_on issuer --keygen --group web --stage
	grep -q 'key 2 staged' "$T/mint.log"
	next=$(mint_on issuer -H web -n 0 alice) # still signed by key 1
	run on issuer "$SESAME_MINT" -c "$T/issuer/sesame.conf" --inspect "$next"
	[[ $output == *"key:      1"* ]]
	give_key issuer web1 web.group.key     # step 1: every host gets the staged key
	mint_on issuer --keygen --group web --promote
	new=$(mint_on issuer -H web -n 0 alice)
	run on web1 "$SESAME_MINT" -c "$T/web1/sesame.conf" --inspect "$new"
	[[ $output == *"key:      2"* ]]
	[[ $output == *"status:   valid"* ]]
	login_on web1 alice "$new"
	expect_result 'result=success'
	login_on web1 alice "$old"
	expect_result 'result=success'
	grep -q '^2 [0-9a-f]*$' "$T/issuer/keys.d/web.group.key"
}

@test "old single-host key files and tokens work as before on a host in groups" {
	host_setup web1 web auto
	mint_on issuer --keygen --group web
	give_key issuer web1 web.group.key
	# a key file written before groups (no marks) and its host's own tokens
	grep -q -v verify "$T/web1/host.key"
	tok=$(mint_on web1 alice)
	scoped=$(mint_on web1 -H web1 alice)
	login_on web1 alice "$tok"
	expect_result 'result=success'
	login_on web1 alice "$scoped"
	expect_result 'result=success'
	grep -q 'password: bound to this host' "$T/mint.log"
}
