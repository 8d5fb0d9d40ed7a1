# vcpus: 2
# seconds: 200 (about, on the release kernel: tests/run.sh starts the longest first)
# The forwarding benchmark (bench/guest/forward.sh, `make bench-guest`) in miniature,
# no timing asserted: one round of 64 packets per run, every variant of section 1
# (pktgen, 64-byte frames; NFQUEUE also with --queue-balance on the two vCPUs), the
# unshared skb (pktgen !SHARED and the udp-blast sender, SSNAT and NFQUEUE), two
# pktgen threads; each moves packets and, captured at the receiver, carries the
# rewritten source (or, for the baselines, the original one) with valid IPv4 and UDP
# checksums. The C helpers are built on the host by tests/run.sh.
. "$SSNAT_OUT/env.sh"
BENCH_MODE=smoke BENCH_ROUNDS=1 BENCH_PACKETS=64 BENCH_SECTIONS="main unshared smp"
. "$REPO/bench/guest/forward.sh"
