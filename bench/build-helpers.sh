#!/usr/bin/env bash
# Builds the C helpers of the forwarding benchmark (bench/udp-blast.c,
# bench/nfq-rewriter.c) into DIR. The guest sees the host's file system read-only, so
# they are built on the host, before the guest boots (scripts/bench-guest.sh,
# tests/run.sh for the smoke test).
set -euo pipefail
dir=${1:?usage: bench/build-helpers.sh DIR}
src=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
mkdir -p "$dir"
pkg-config --exists libnetfilter_queue ||
	{ echo "error: libnetfilter_queue not found (scripts/setup.sh installs libnetfilter-queue-dev)" >&2; exit 1; }
$cc -O2 -Wall -Wextra -Werror -o "$dir/udp-blast" "$src/udp-blast.c"
# shellcheck disable=SC2046 # pkg-config's flags are words
$cc -O2 -Wall -Wextra -Werror -o "$dir/nfq-rewriter" "$src/nfq-rewriter.c" $(pkg-config --cflags --libs libnetfilter_queue)
