#!/usr/bin/env bats
# 2,000 etcd sessions in one process (open, count a use, close), as the
# PAM module would make them login after login: no descriptor, thread or
# memory may pile up in the caller's process.

load fleet_helpers

setup_file() { fleet_setup; }
teardown_file() { fleet_teardown; }

@test "sessions through the helper keep descriptors, threads and RSS flat" {
	run probe verifier soak "${SESAME_ETCD_SOAK:-2000}"
	echo "$output" >&3
	[ "$status" -eq 0 ]
}
