# Every protocol, both backends (IPv4 here; 11-protocols-ipv6 sources this with FAMS=6):
# TCP, UDP-Lite (whole and partial coverage), DCCP, SCTP (CRC32c recomputed), ICMP or
# ICMPv6 echo (identifier as port), GRE (address only). One rule per protocol, all
# protocols sent and captured together, then checked one by one.
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
load_module
setup_topology
rcv_sink
for backend in legacy nft; do
	IPT=iptables-$backend IP6T=ip6tables-$backend
	for fam in ${FAMS:-4}; do
		if [ $fam = 4 ]; then
			src=$SND4 dst=$RCV4 to=198.51.100.7 bracket=198.51.100.7 icmp=icmp
		else
			src=$SND6 dst=$RCV6 to=2001:db8:99::7 bracket="[2001:db8:99::7]" icmp=icmpv6
		fi
		protos="tcp udplite dccp sctp $icmp"
		for proto in $protos gre; do
			pname=$proto
			[ $proto = icmpv6 ] && pname=ipv6-icmp
			rule=(--to-source "$bracket:4000")
			[ $proto = gre ] && rule=(--to-source $to)
			rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $pname -j CT --notrack
			rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $pname -j SSNAT "${rule[@]}" ||
				fail "$IPT: rule for $proto"
		done
		all=$(echo $protos gre | tr ' ' ,)
		capture_start rcv d0 $((N * 7)) rx "$all"
		send --family $fam --proto "$all" --src $src --sport 5004 --dst $dst --dport 6000 --count $N >/dev/null
		# UDP-Lite with partial coverage: the checksum covers the header and 12 bytes.
		send --family $fam --proto udplite --cscov 20 --src $src --sport 5004 --dst $dst \
			--dport 6000 --count $N >/dev/null
		capture_wait rx >/dev/null
		check rx --proto "${all/udplite/udplite:$((N * 2))}" --count $N --src $to --sport 4000 \
			--dport 6000 | sed "s/^/$backend ipv$fam: /"
		rtr_ipt $fam -t raw -F
	done
done
[ "$(conntrack_count rtr)" = 0 ] || fail "conntrack entries in the router"
echo "PASS: TCP, UDP-Lite (whole and partial coverage), DCCP, SCTP, ICMP echo, GRE over IPv${FAMS:-4} with both backends"
