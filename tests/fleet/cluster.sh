#!/bin/bash
# A real etcd cluster for the fleet tests: three members on 127.0.0.1
# with TLS between clients and members and between members, a CA made
# here with openssl, RBAC users and roles as docs/fleet.md lays out, and
# client settings files for each credential the tests use.
#
#   cluster.sh start DIR [PID]  make everything under DIR, start, wait, set up
#                           RBAC; with PID, stop the members when PID ends
#                           (a test run killed before its teardown)
#   cluster.sh stop DIR     stop every member started from DIR
#   cluster.sh leader DIR   print the leader's member name (m1, m2, m3)
#   cluster.sh restart DIR M...  start members M... again (after a kill), wait
#   cluster.sh root DIR ARGS  etcdctl as root
#
# Ports come from free_ports.py; every member's pid is in DIR/mN.pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: cluster.sh start|stop|leader DIR}
dir=${2:?usage: cluster.sh start|stop|leader DIR}
members=(m1 m2 m3)
prefix=/sesame/
# Small on purpose: the NOSPACE test fills it. docs/fleet.md gives
# production values.
quota=${SESAME_TEST_ETCD_QUOTA:-4194304}
# Cheap password checks for the tests; the benchmark sets etcd's default
# (10) to report authenticate as a deployment pays it.
bcrypt_cost=${SESAME_TEST_ETCD_BCRYPT_COST:-4}

etcdctl_root() {
	ETCDCTL_API=3 etcdctl --endpoints="$(cat "$dir/endpoints")" \
		--cacert="$dir/ca.crt" --cert="$dir/client.crt" --key="$dir/client.key" \
		--user="root:$(cat "$dir/root.password")" --command-timeout=5s "$@"
}

make_ca() {
	local name=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=sesame test $name" -keyout "$dir/$name.key" -out "$dir/$name.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null
}

# issue NAME SUBJECT EKU [CA]: a leaf certificate valid for 2 days.
issue() {
	local name=$1 subject=$2 eku=$3 ca=${4:-ca}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
		-keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' "$eku" \
		>"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
}

# A client certificate that expired yesterday (openssl ca sets the dates).
issue_expired() {
	mkdir -p "$dir/ca-db"
	: >"$dir/ca-db/index.txt"
	cat >"$dir/ca-db/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $dir/ca-db/index.txt
new_certs_dir = $dir/ca-db
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/ca-db/serial
default_md = sha256
policy = any
x509_extensions = leaf
[any]
organizationName = supplied
[leaf]
extendedKeyUsage = clientAuth
CNF
	echo 1000 >"$dir/ca-db/serial"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=sesame/OU=expired client" -keyout "$dir/expired.key" \
		-out "$dir/expired.csr" 2>/dev/null
	openssl ca -batch -config "$dir/ca-db/ca.cnf" -in "$dir/expired.csr" \
		-out "$dir/expired.crt" -notext \
		-startdate "$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)" \
		-enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" 2>/dev/null
}

make_pki() {
	make_ca ca
	make_ca otherca
	for m in "${members[@]}"; do
		# The members' CN is no etcd user: with client-cert-auth, the
		# gateway's own connection presents this certificate, and a CN
		# that named a user would authenticate token-less requests as it.
		issue "$m" "/CN=etcd member $m" serverAuth,clientAuth
	done
	# No CN in a client certificate: etcd 3.4's gateway answers 400 to a
	# client whose certificate has one ("CommonName of client sending a
	# request against gateway will be ignored"), since the gateway cannot
	# authenticate by it; the RBAC user comes from the password.
	issue client "/O=sesame/OU=fleet client" clientAuth
	issue_expired
	openssl genrsa -out "$dir/jwt.key" 2048 2>/dev/null
	openssl rsa -in "$dir/jwt.key" -pubout -out "$dir/jwt.pub" 2>/dev/null
	chmod 600 "$dir"/*.key
}

# Each member's command line goes to DIR/mN.run, so that a test can
# start a killed member again (restart) with its data.
start_members() {
	local ports cluster="" i=0 m
	read -r -a ports <<<"$(python3 "$here/free_ports.py" 6)"
	for m in "${members[@]}"; do
		cluster+="${cluster:+,}$m=https://127.0.0.1:${ports[$((i * 2 + 1))]}"
		i=$((i + 1))
	done
	: >"$dir/endpoints.list"
	i=0
	for m in "${members[@]}"; do
		local client=${ports[$((i * 2))]} peer=${ports[$((i * 2 + 1))]}
		echo "https://127.0.0.1:$client" >>"$dir/endpoints.list"
		echo "$client" >"$dir/$m.port"
		cat >"$dir/$m.run" <<RUN
exec etcd --name $m --data-dir $dir/$m.data \\
	--listen-client-urls https://127.0.0.1:$client \\
	--advertise-client-urls https://127.0.0.1:$client \\
	--listen-peer-urls https://127.0.0.1:$peer \\
	--initial-advertise-peer-urls https://127.0.0.1:$peer \\
	--initial-cluster $cluster --initial-cluster-state new \\
	--initial-cluster-token sesame-test-$$ \\
	--cert-file $dir/$m.crt --key-file $dir/$m.key \\
	--trusted-ca-file $dir/ca.crt --client-cert-auth \\
	--peer-cert-file $dir/$m.crt --peer-key-file $dir/$m.key \\
	--peer-trusted-ca-file $dir/ca.crt --peer-client-cert-auth \\
	--auth-token jwt,pub-key=$dir/jwt.pub,priv-key=$dir/jwt.key,sign-method=RS256,ttl=10m \\
	--bcrypt-cost $bcrypt_cost \\
	--quota-backend-bytes $quota \\
	--auto-compaction-mode periodic --auto-compaction-retention 1h \\
	--logger zap --log-outputs $dir/$m.log
RUN
		start_member "$m"
		i=$((i + 1))
	done
	paste -sd, "$dir/endpoints.list" >"$dir/endpoints"
}

start_member() {
	bash "$dir/$1.run" >/dev/null 2>&1 &
	echo $! >"$dir/$1.pid"
}

wait_healthy() {
	local i
	for i in $(seq 100); do
		if ETCDCTL_API=3 etcdctl --endpoints="$(cat "$dir/endpoints")" --cacert="$dir/ca.crt" \
			--cert="$dir/client.crt" --key="$dir/client.key" --command-timeout=2s \
			endpoint health >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "cluster.sh: the cluster did not become healthy; logs in $dir" >&2
	return 1
}

# Roles by prefix (docs/fleet.md): hosts count uses and mail limits (and
# record the leases those get) and read revocations and the ledger;
# issuers also write those, and the leases of what they write.
setup_rbac() {
	local e="etcdctl --endpoints=$(cat "$dir/endpoints") --cacert=$dir/ca.crt"
	e+=" --cert=$dir/client.crt --key=$dir/client.key --command-timeout=5s"
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/root.password"
	ETCDCTL_API=3 $e user add "root:$(cat "$dir/root.password")" >/dev/null
	ETCDCTL_API=3 $e user grant-role root root >/dev/null
	ETCDCTL_API=3 $e auth enable >/dev/null
	etcdctl_root role add sesame-verifier >/dev/null
	etcdctl_root role add sesame-issuer >/dev/null
	for role in sesame-verifier sesame-issuer; do
		etcdctl_root role grant-permission "$role" readwrite --prefix=true "${prefix}uses/" >/dev/null
		etcdctl_root role grant-permission "$role" readwrite --prefix=true "${prefix}mail/" >/dev/null
		etcdctl_root role grant-permission "$role" readwrite --prefix=true "${prefix}mailed/" >/dev/null
		etcdctl_root role grant-permission "$role" readwrite --prefix=true "${prefix}leases/uses/" >/dev/null
	done
	for p in revoked/ revoked-users/ ledger/ leases/issued/; do
		etcdctl_root role grant-permission sesame-verifier read --prefix=true "$prefix$p" >/dev/null
		etcdctl_root role grant-permission sesame-issuer readwrite --prefix=true "$prefix$p" >/dev/null
	done
	for u in verifier issuer; do
		head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/$u.password"
		chmod 600 "$dir/$u.password"
		etcdctl_root user add "$u:$(cat "$dir/$u.password")" >/dev/null
		etcdctl_root user grant-role "$u" "sesame-$u" >/dev/null
	done
	cp "$dir/root.password" "$dir/rootpw.password"
	echo "wrong password" >"$dir/wrong.password"
	chmod 600 "$dir"/*.password
}

# conf NAME USER PASSWORD [CA] [CERT] [TIMEOUT]: settings for the probe.
# A helper per session, whatever runs on this machine: a sesame-etcd
# --serve on the default socket would otherwise answer every suite.
conf() {
	local name=$1 user=$2 pw=$3 ca=${4:-ca} cert=${5:-client} timeout=${6:-2s}
	cat >"$dir/$name.conf" <<CONF
etcd_endpoints = $(cat "$dir/endpoints")
etcd_cacert = $dir/$ca.crt
etcd_cert = $dir/$cert.crt
etcd_key = $dir/$cert.key
etcd_user = $user
etcd_password_file = $dir/$pw.password
etcd_prefix = $prefix
etcd_timeout = $timeout
etcd_helper_socket = none
CONF
	mkdir -p -m 700 "$dir/state-$name"
}

write_confs() {
	conf verifier verifier verifier
	conf issuer issuer issuer
	conf root root rootpw
	conf wrongca verifier verifier otherca
	conf expired verifier verifier ca expired
	conf wrongpw verifier wrong
	# 64 clients started at once on one small machine, with the three
	# members: the storms test counting, not latency under that load.
	conf storm verifier verifier ca client 30s
}

stop_members() {
	local m pid
	for m in "${members[@]}"; do
		[ -f "$dir/$m.pid" ] || continue
		pid=$(cat "$dir/$m.pid")
		kill -CONT "$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$dir/$m.pid"
	done
	wait 2>/dev/null || true
}

leader() {
	local m
	for m in "${members[@]}"; do
		[ -f "$dir/$m.pid" ] || continue
		if ETCDCTL_API=3 etcdctl --endpoints="https://127.0.0.1:$(cat "$dir/$m.port")" \
			--cacert="$dir/ca.crt" --cert="$dir/client.crt" --key="$dir/client.key" \
			--user="root:$(cat "$dir/root.password")" --command-timeout=2s \
			endpoint status -w json 2>/dev/null |
			python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if s["header"]["member_id"]==s["leader"] else 1)'; then
			echo "$m"
			return 0
		fi
	done
	return 1
}

# Background jobs of a non-interactive shell ignore SIGINT: without
# this, a test run stopped by Ctrl-C would leave its members running.
watch_owner() {
	local owner=$1
	(
		while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
		stop_members
	) </dev/null >/dev/null 2>&1 &
}

case $cmd in
start)
	mkdir -p -m 700 "$dir"
	make_pki
	start_members
	[ -z "${3:-}" ] || watch_owner "$3"
	wait_healthy
	setup_rbac
	write_confs
	;;
stop) stop_members ;;
leader) leader ;;
restart)
	shift 2
	for m in "${@:?which member}"; do start_member "$m"; done
	wait_healthy
	;;
root) shift 2; etcdctl_root "$@" ;;
*) echo "cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
