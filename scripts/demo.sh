#!/usr/bin/env bash
# `make demo`: boots the custom kernel and shows UDP packets' source before and
# after an SSNAT router (guest script: tests/demo-guest.sh).
set -uo pipefail
. "$(dirname "$0")/env.sh"
"$ssnat_repo/tests/run.sh" --script "$ssnat_repo/tests/demo-guest.sh" demo >/dev/null
rc=$?
cat "$ssnat_repo/tests/out/demo/test.log"
[ $rc = 0 ] || echo "demo failed; guest console: tests/out/demo/console.log" >&2
exit $rc
