#!/usr/bin/env bats
# A fleet sharing one etcd store, through the module and the CLI on
# simulated hosts (hosts_helpers.bash): a three-member cluster with TLS
# and RBAC (cluster.sh), and five hosts, each with its own host name,
# config, keys, accounts (alice's hash has another salt on every host)
# and etcd credentials:
#
#   a  fleet-a  groups web, db  the issuer: holds both group keys,
#                               etcd user "issuer"
#   b  fleet-b  group web       bind_password = auto, etcd user "verifier"
#   c  fleet-c  group web       bind_password = yes,  etcd user "verifier"
#   d  fleet-d  group db        bind_password = auto, etcd user "verifier"
#   e  fleet-e  group web       bind_password = auto, etcd user "verifier"
#
# Faults (storms, members killed or stopped, bad credentials, the quota)
# are in hosts_faults.bats, real sshd in hosts_ssh.bats.

load ../bats/pam_helpers
load ../e2e/e2e_helpers
load hosts_helpers

setup_file() {
	fleet_start
	local h
	for h in a b c d e; do
		fleet_accounts "$h"
	done
	fleet_host a fleet-a "web, db" auto issuer
	fleet_host b fleet-b web auto verifier
	fleet_host c fleet-c web yes verifier
	fleet_host d fleet-d db auto verifier
	fleet_host e fleet-e web auto verifier
	mint_on a --keygen --group web
	mint_on a --keygen --group db
	for h in b c e; do
		give_key a "$h" web.group.key
	done
	give_key a d db.group.key
	# Login by email on the web hosts; each host's mail goes to its own
	# mbox. At most 2 mails per account and hour, from all sources.
	for h in b c e; do
		cat >>"$FLEET/$h/sesame.conf" <<-END
		url = https://login.fleet.test/#
		sendmail = $BATS_TEST_DIRNAME/../bats/fake-sendmail $FLEET/$h/mbox
		mail_from = sesame@fleet.test
		END
		printf 'auth required %s conf=%s mail mail_to=%%u@fleet.test mail_account_per_hour=2 debug\n' \
			"$PAM_SESAME" "$FLEET/$h/sesame.conf" >"$FLEET/$h/pam.d/mail"
	done
}

teardown_file() { fleet_stop; }
setup() { fleet_test_setup; }
teardown() { fleet_test_teardown; }

# expect_refused REASON: the last login on a host was refused for REASON.
expect_refused() {
	[ "$status" -ne 0 ] || {
		echo "expected a refusal ($1), the login succeeded" >&2
		return 1
	}
	expect_result "result=refused reason=\"$1\""
}

# use_hosts ID: the hosts of the token's recorded uses, sorted, one line.
use_hosts() {
	history_on "$2" "$1" | json_eval '" ".join(sorted(u["host"] for u in d["use_records"]))'
}

@test "a 1-use token from the issuer: in on B, then refused on C and on B (used up)" {
	mint_json_on a -H group:web alice
	login_on b alice "$TOK"
	expect_result 'result=success'
	run login_on c alice "$TOK"
	expect_refused "used up"
	run login_on b alice "$TOK"
	expect_refused "used up"
	# Any host reads the one use the fleet counted, and where it was.
	history_on d "$ID" | json_eval 'd["used"] == 1 and d["state"] == "used up"'
	[ "$(use_hosts "$ID" e)" = "fleet-b" ]
}

@test "a 3-use token: three logins across B, C and B, then refused on E" {
	mint_json_on a -H group:web -n 3 alice
	login_on b alice "$TOK"
	expect_result 'result=success'
	login_on c alice "$TOK" # bind_password = yes there: a group token binds to name and uid
	expect_result 'result=success'
	login_on b alice "$TOK"
	expect_result 'result=success'
	run login_on e alice "$TOK"
	expect_refused "used up"
	run login_on c alice "$TOK"
	expect_refused "used up"
	history_on a "$ID" | json_eval 'd["used"] == 3'
	[ "$(use_hosts "$ID" a)" = "fleet-b fleet-b fleet-c" ]
}

@test "--revoke ID on the issuer: refused on every host" {
	mint_json_on a -H group:web -n 5 alice
	login_on b alice "$TOK"
	expect_result 'result=success'
	mint_on a --revoke "$ID"
	for h in b c e a; do
		run login_on "$h" alice "$TOK"
		expect_refused "revoked"
	done
	history_on d "$ID" | json_eval 'd["revoked"] is True and d["used"] == 1'
}

@test "--list on any verifying host shows the fleet's tokens" {
	mint_json_on a -H group:web -m "for the web team" alice
	web=$ID
	mint_json_on a -H group:db -n 2 bob
	db=$ID
	for h in b c d e; do
		mint_on "$h" --list >"$T/list.$h"
		grep -E "^$web +alice .* 0/1 .*for the web team$" "$T/list.$h"
		grep -E "^$db +bob .* 0/2 " "$T/list.$h"
		mint_on "$h" --list --json |
			json_eval "{'$web', '$db'} <= {t['id'] for t in d} and all(t['host'] == 'fleet-a' for t in d if t['id'] in ('$web', '$db'))"
	done
	# a use on one host shows in every host's list
	login_on d bob "$TOK"
	expect_result 'result=success'
	mint_on c --list | grep -E "^$db +bob .* 1/2 "
}

@test "mail limits hold across hosts: an interval and an account cap, counted once for the fleet" {
	# B mails alice a link (source 198.51.100.7) and the link logs in there.
	auth_on b -r 198.51.100.7 mail alice "" "@mail:$FLEET/b/mbox"
	[ "$PAM_RC" -eq "$PAM_SUCCESS" ]
	grep -q 'sesame: mail user=alice .*result="sent"' "$LOG"
	expect_result 'result=success'
	# C, same account and source within mail_interval (60 s): limited by
	# what B recorded. With a store per host it would send.
	auth_on c -r 198.51.100.7 mail alice "" "x"
	[ "$PAM_RC" -eq "$PAM_AUTH_ERR" ]
	[ "$(grep -c 'sesame: mail user=alice .*result="rate limited"' "$LOG")" -eq 1 ]
	[ ! -e "$FLEET/c/mbox" ]
	# E, another source: the second mail of the hour for alice.
	auth_on e -r 198.51.100.8 mail alice "" "x"
	[ "$(grep -c 'sesame: mail user=alice .*result="sent"' "$LOG")" -eq 2 ]
	[ "$(grep -c '^To: alice@fleet.test$' "$FLEET/e/mbox")" -eq 1 ]
	# C, a third source: over the account cap of 2 an hour, fleet-wide.
	auth_on c -r 198.51.100.9 mail alice "" "x"
	[ "$(grep -c 'sesame: mail user=alice .*result="rate limited"' "$LOG")" -eq 2 ]
	[ ! -e "$FLEET/c/mbox" ]
	# bob's limits are his own
	auth_on c -r 198.51.100.9 mail bob "" "@mail:$FLEET/c/mbox"
	[ "$PAM_RC" -eq "$PAM_SUCCESS" ]
	[ "$(grep -c '^To: bob@fleet.test$' "$FLEET/c/mbox")" -eq 1 ]
}

# etcdctl_as DIR ARGS...: etcdctl with host DIR's etcd credentials.
etcdctl_as() {
	local h=$FLEET/$1
	shift
	ETCDCTL_API=3 timeout "$FLEET_CLIENT_TIMEOUT" etcdctl \
		--endpoints="$(cat "$CLUSTER/endpoints")" --cacert="$h/etcd/ca.crt" \
		--cert="$h/etcd/client.crt" --key="$h/etcd/client.key" \
		--user="$(sed -n 's/^etcd_user = //p' "$h/sesame.conf")" \
		--password="$(cat "$h/etcd/password")" --command-timeout=5s "$@"
}

@test "a verifying host's credentials cannot delete a revocation, nor revoke, nor write the ledger" {
	mint_json_on a -H group:web -n 0 alice
	mint_on a --revoke "$ID"
	key=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/revoked/ --keys-only |
		grep -i "$ID")
	[ -n "$key" ]
	# with etcdctl and B's etcd user: etcd refuses
	run etcdctl_as b del "$key"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"permission denied"* ]]
	run etcdctl_as b put "$key" ""
	[ "$status" -ne 0 ]
	[ -n "$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get "$key" --keys-only)" ]
	run login_on b alice "$TOK"
	expect_refused "revoked"
	# the issuer's credentials can (the test's control)
	run etcdctl_as a get "$key" --keys-only
	[ "$output" = "$key" ]
	# nor a per-user revocation, nor write the ledger
	mint_json_on a -H group:web bob
	bob_tok=$TOK
	mint_on a --revoke-user bob
	ukey=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/revoked-users/ --keys-only |
		grep .)
	run etcdctl_as b del --prefix /sesame/revoked-users/
	[ "$status" -ne 0 ]
	[[ $output == *"permission denied"* ]]
	[ "$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/revoked-users/ --keys-only | grep .)" = "$ukey" ]
	run login_on e bob "$bob_tok"
	expect_refused "revoked"
	run etcdctl_as b put /sesame/ledger/forged x
	[ "$status" -ne 0 ]
	[[ $output == *"permission denied"* ]]
	# sesame-mint on B cannot revoke either: only issuers write revocations
	mint_json_on a -H group:web alice
	run mint_on b --revoke "$ID"
	[ "$status" -eq 2 ]
	grep -q 'permission denied' "$T/mint.log"
	run mint_on b --revoke-user alice
	[ "$status" -eq 2 ]
	login_on e alice "$TOK"
	expect_result 'result=success'
}

@test "a web token is refused on the db host, a db token on the web hosts" {
	mint_json_on a -H group:web alice
	run login_on d alice "$TOK"
	[ "$status" -ne 0 ]
	expect_result 'result=refused'
	login_on b alice "$TOK" # the refusal on D used nothing up
	expect_result 'result=success'
	mint_json_on a -H group:db alice
	for h in b c e; do
		run login_on "$h" alice "$TOK"
		[ "$status" -ne 0 ]
		expect_result 'result=refused'
	done
	login_on d alice "$TOK"
	expect_result 'result=success'
}

@test "a host holding only db keys cannot mint a token that a web host accepts" {
	# asked for a web token, D has no web key to sign with
	run mint_on d -H group:web alice
	[ "$status" -eq 2 ]
	grep -q 'web.group.key' "$T/mint.log"
	# An attacker with root on D: a config of its own (a file store: D's
	# etcd user may not write the ledger), its db key passed off as web's.
	local d=$FLEET/d
	mkdir -m 0700 "$d/attacker-keys" "$d/attacker-state"
	install -m 0600 "$d/keys.d/db.group.key" "$d/attacker-keys/web.group.key"
	printf 'key_file = %s\nkey_dir = %s\nstate_dir = %s\nbind_password = auto\n' \
		"$d/host.key" "$d/attacker-keys" "$d/attacker-state" >"$d/attacker.conf"
	forged=$(on d "$SESAME_MINT" -c "$d/attacker.conf" -H group:web alice 2>>"$T/mint.log")
	run login_on b alice "$forged"
	[ "$status" -ne 0 ]
	expect_result 'result=refused reason="bad signature"'
	# nor D's own host key for a token scoped to a web host
	forged=$(on d "$SESAME_MINT" -c "$d/attacker.conf" -H host:fleet-b alice 2>>"$T/mint.log")
	run login_on b alice "$forged"
	[ "$status" -ne 0 ]
	expect_result 'result=refused'
}

@test "a directory account: in with auto, refused with yes, ended fleet-wide by --revoke-user on the issuer" {
	mint_json_on a -H group:web -n 5 dirk
	grep -q 'password: not bound to a password' "$T/mint.log"
	run on b "$SESAME_MINT" -c "$FLEET/b/sesame.conf" --inspect "$TOK"
	[[ $output == *"password: not bound to a password"* ]]
	web=$TOK
	login_on b dirk "$web"
	expect_result 'result=success'
	run login_on c dirk "$web" # bind_password = yes there
	[ "$status" -ne 0 ]
	expect_result 'reason="shadow entry unavailable"'
	mint_json_on a -H group:db -n 5 dirk
	db=$TOK
	login_on d dirk "$db"
	expect_result 'result=success'
	mint_on a --revoke-user dirk
	# it ends what any issuer minted until then, by a clock up to
	# etcd_clock_skew ahead of the cluster's: until that has passed,
	# minting for dirk is refused, saying when
	grep -q "revoked every token of dirk (uid 1600) issued until .*etcd_clock_skew" "$T/mint.log"
	run mint_on a -H group:web dirk
	[ "$status" -eq 1 ]
	grep -q "refusing to mint for dirk: --revoke-user ended every token of dirk issued until .*possible again in [0-9]* s" "$T/mint.log"
	wait_s=$(sed -n 's/.*possible again in \([0-9]*\) s.*/\1/p' "$T/mint.log" | tail -n 1)
	for h in b e; do
		run login_on "$h" dirk "$web"
		expect_refused "revoked"
	done
	run login_on d dirk "$db"
	expect_refused "revoked"
	# alice's tokens are not touched
	mint_json_on a -H group:web alice
	login_on e alice "$TOK"
	expect_result 'result=success'
	# once the time the refusal named has passed, a token works
	sleep "$wait_s"
	mint_json_on a -H group:web dirk
	login_on e dirk "$TOK"
	expect_result 'result=success'
}
