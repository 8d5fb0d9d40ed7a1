# Resource limits and what an unprivileged user may see. A user who owns a user and a
# network namespace may create profiles and rules there: capped per namespace
# (max_profiles), charged to its memory cgroup (__GFP_ACCOUNT), so that a tight
# memory.max stops it with ENOMEM while the kernel stays fine. Reading profiles needs
# CAP_NET_ADMIN like changing them; sysfs says nothing about other namespaces.
# kernel: debug (it needs CONFIG_MEMCG, which only the debug config has)
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
CTL="$BIN/ssnatctl"
UNPRIV=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
load_module

# sysfs: the module's own facts and knobs, nothing per namespace.
params=$(ls /sys/module/xt_SSNAT/parameters | tr '\n' ' ')
[ "$params" = "abi_version max_profiles " ] || fail "parameters: $params"
[ "$(cat /sys/module/xt_SSNAT/parameters/max_profiles)" = 1024 ] || fail "max_profiles default"
expect_fail "max_profiles written by a user" "${UNPRIV[@]}" sh -c 'echo 5 >/sys/module/xt_SSNAT/parameters/max_profiles'

# Reading: the initial namespace's profiles and rule counters are root's business.
ip netns add lim
ip netns exec lim $CTL profile add secret --to-source 198.51.100.7 || fail "add secret"
ip netns exec lim iptables-legacy -t raw -A OUTPUT -p udp -j SSNAT --profile secret || fail "rule"
expect_fail "unprivileged dump" ip netns exec lim "${UNPRIV[@]}" $CTL profile list
grep -q CAP_NET_ADMIN "$W/out" || fail "dump refusal: $(cat "$W/out")"
expect_fail "unprivileged GET" ip netns exec lim "${UNPRIV[@]}" $CTL profile show secret
expect_fail "unprivileged /proc/net/xt_SSNAT" ip netns exec lim "${UNPRIV[@]}" cat /proc/net/xt_SSNAT
ip netns exec lim iptables-legacy -t raw -F

# A memory cgroup for the unprivileged user's processes.
cg=/sys/fs/cgroup
grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || fail "mount cgroup2"
grep -qw memory $cg/cgroup.controllers || fail "no memory controller (CONFIG_MEMCG)"
echo +memory >$cg/cgroup.subtree_control
mkdir $cg/ssnat-lim
# in_cg SCRIPT: runs SCRIPT as the unprivileged user, in the cgroup, in a user and
# network namespace of its own (the profiles go with the namespace when SCRIPT ends).
in_cg() {
	sh -c 'echo $$ >'$cg'/ssnat-lim/cgroup.procs && exec "$@"' sh \
		"${UNPRIV[@]}" unshare --user --map-root-user --net sh -c "$1"
}
# What the kernel holds for the cgroup, in bytes: its slab objects and per-CPU
# memory (memory.stat, flushed when read). memory.current moves in per-CPU batches of
# pages, too coarse for a few hundred small objects.
KMEM="awk '\$1 == \"slab\" || \$1 == \"percpu\" { s += \$2 } END { print s }' $cg/ssnat-lim/memory.stat"
# (files the user reads and writes)
U=$(mktemp -d)
chmod 1777 "$U"
# The cap, lowered to N=100 for the test (the debug kernel is slow, and each NEW scans
# the table), as root may at runtime; the default is restored at the end.
N=100
echo $N >/sys/module/xt_SSNAT/parameters/max_profiles
for i in $(seq 1 $((N + 1))); do echo "profile add p$i --to-source 192.0.2.$((i % 250 + 1)):$((1000 + i))"; done >"$U/pN1"
head -n $N "$U/pN1" >"$U/pN"
tail -n 1 "$U/pN1" >"$U/p1"

# 1. The cap: N profiles in one namespace, the next refused with a clear message;
# what they hold is charged to the user's cgroup.
in_cg "
	b=\$($KMEM)
	$CTL restore $U/pN || exit 10
	a=\$($KMEM)
	echo \"charged \$((a - b))\"
	$CTL restore $U/p1 >$U/cap.out 2>&1 && exit 11
	echo \"cap exit \$?\"
	[ \$($CTL profile list | wc -l) = $N ] || exit 12
" >"$W/cap.log" 2>&1 || fail "cap run, status $?: $(cat "$W/cap.log" "$U/cap.out" 2>/dev/null)"
cat "$W/cap.log" "$U/cap.out"
grep -q "too many profiles in this namespace (module parameter max_profiles)" "$U/cap.out" ||
	fail "the profile over the cap's refusal: $(cat "$U/cap.out")"
charged=$(sed -n 's/^charged //p' "$W/cap.log")
# A profile holds its Arc'd struct, its mapping (SsnatInfo + Mapping) and per-CPU
# counters: well over 256 bytes each. Unaccounted, the cgroup would see only the
# netlink buffers of one process.
[ "$charged" -ge $((N * 256)) ] || fail "$N profiles charged only $charged bytes to the creator's cgroup"
note "$N profiles charged $charged bytes ($((charged / N)) per profile) to the creator's cgroup"

# The cap is per namespace: root's namespace (and others) are not affected.
ip netns exec lim $CTL profile add other --to-source 198.51.100.8 || fail "another namespace's profile"
# Raised at runtime by root, the same user gets further.
echo $((N + 1)) >/sys/module/xt_SSNAT/parameters/max_profiles
in_cg "$CTL restore $U/pN1 && [ \$($CTL profile list | wc -l) = $((N + 1)) ]" || fail "max_profiles=$((N + 1)) did not allow $((N + 1))"
echo $N >/sys/module/xt_SSNAT/parameters/max_profiles

# 2. A tight memory.max stops the user, not the kernel: its profile allocations fail
# with ENOMEM, or the cgroup's OOM killer ends its process, or (as seen on the debug
# kernel, where reclaim keeps finding a little to free) the process stalls at its limit
# until it is killed; either way it gets no more profiles than the limit allows, and
# everyone else goes on. (The limit is set from inside, once the user's processes
# run, and lifted again there before counting: root hands it memory.max for that.)
# M profiles, ten times the cap's N and the cap raised to them for this step: far more
# than the 32 KiB over its usage allow, and more than reclaim can make room for (with
# N alone, the debug kernel's reclaim once freed enough page cache for all of them).
M=$((10 * N))
for i in $(seq 1 $M); do echo "profile add m$i --to-source 192.0.2.$((i % 250 + 1)):$((1000 + i))"; done >"$U/pM"
echo $M >/sys/module/xt_SSNAT/parameters/max_profiles
chown 65534 $cg/ssnat-lim/memory.max
in_cg "
	echo \$((\$(cat $cg/ssnat-lim/memory.current) + 32 * 1024)) >$cg/ssnat-lim/memory.max
	timeout 120 $CTL restore $U/pM >$U/oom.out 2>&1
	rc=\$?
	echo max >$cg/ssnat-lim/memory.max
	echo \"restore exit \$rc with \$($CTL profile list 2>/dev/null | wc -l) profiles\"
" >"$W/oom.log" 2>&1 || true
# (the OOM killer may end the user's shell itself, before it lifts the limit)
echo max >$cg/ssnat-lim/memory.max
cat "$W/oom.log" $cg/ssnat-lim/memory.events
tail -n 2 "$U/oom.out"
n=$(sed -n 's/.* with \([0-9]*\) profiles/\1/p' "$W/oom.log")
if [ -z "$n" ] && grep -q '^oom_kill [1-9]' $cg/ssnat-lim/memory.events; then
	# its namespace, and the profiles in it, went with its last process
	n=0
	note "the cgroup's OOM killer ended the user's shell itself: its namespace and profiles went with it"
fi
stalled=no
grep -q "restore exit 124 " "$W/oom.log" && stalled=yes
echo $N >/sys/module/xt_SSNAT/parameters/max_profiles
[ -n "$n" ] && [ "$n" -lt $M ] || fail "memory.max did not stop the profiles ($n of $M)"
grep -q '^max [1-9]' $cg/ssnat-lim/memory.events || fail "memory.events: $(cat $cg/ssnat-lim/memory.events)"
grep -q "Cannot allocate memory" "$U/oom.out" || grep -q '^oom_kill [1-9]' $cg/ssnat-lim/memory.events ||
	[ $stalled = yes ] || fail "under memory.max neither ENOMEM, the cgroup's OOM killer nor a stall: $(tail -n 3 "$U/oom.out")"
[ $stalled = no ] || note "under memory.max the user's restore stalled at its limit (memory.events: $(grep '^max ' $cg/ssnat-lim/memory.events)) and was killed after 120 s, with $n profiles"
ip netns exec lim $CTL profile add after-oom --to-source 198.51.100.9 || fail "root's profile after the user's limit"
ip netns exec lim $CTL profile del after-oom
# Rules the user adds in its namespace are charged too (x_tables' own table and
# SSNAT's per-rule state). (The user may not open root's /run/xtables.lock: a lock
# file of its own.)
in_cg "
	$CTL profile add r --to-source 192.0.2.1:1000 || exit 20
	b=\$($KMEM)
	for i in \$(seq $N); do echo \"-A OUTPUT -p udp --dport \$((2000 + i)) -j SSNAT --profile r\"; done |
		{ echo '*raw'; cat; echo COMMIT; } | XTABLES_LOCKFILE=$U/xtables.lock iptables-legacy-restore || exit 21
	a=\$($KMEM)
	echo \"rules charged \$((a - b))\"
" >"$W/rules.log" 2>&1 || fail "rules in the user's namespace: $(cat "$W/rules.log")"
cat "$W/rules.log"
rules=$(sed -n 's/^rules charged //p' "$W/rules.log")
# (each rule: its state, its /proc line and per-CPU counters: well over 64 bytes)
[ "${rules:-0}" -ge $((N * 64)) ] || fail "$N rules charged only ${rules:-0} bytes to the creator's cgroup"
rmdir $cg/ssnat-lim 2>/dev/null || true
echo 1024 >/sys/module/xt_SSNAT/parameters/max_profiles

ip netns exec lim $CTL profile del secret
ip netns exec lim $CTL profile del other
ip netns del lim
rmmod xt_SSNAT || fail rmmod
echo "PASS: max_profiles caps each namespace (the next refused at $N, ENOSPC with a message); $charged bytes for $N profiles charged to the creator's cgroup; memory.max stops it after $n; dumps, GET and /proc/net/xt_SSNAT need CAP_NET_ADMIN; sysfs shows nothing per namespace"
