# Every protocol, both backends (IPv4 here; 11-protocols-ipv6 sources this with FAMS=6): TCP, UDP-Lite (whole and partial
# coverage), DCCP, SCTP (CRC32c
# recomputed), ICMP/ICMPv6 echo (identifier as port), GRE (address only).
. "$SSNAT_OUT/env.sh"; . "$REPO/tests/lib/guest.sh"
N=5
load_module
setup_topology
for backend in legacy nft; do
	IPT=iptables-$backend IP6T=ip6tables-$backend
	for fam in ${FAMS:-4}; do
		if [ $fam = 4 ]; then
			src=$SND4 dst=$RCV4 to=198.51.100.7 bracket=198.51.100.7 icmp=icmp
		else
			src=$SND6 dst=$RCV6 to=2001:db8:99::7 bracket="[2001:db8:99::7]" icmp=icmpv6
		fi
		for proto in tcp udplite dccp sctp $icmp gre; do
			pname=$proto
			[ $proto = icmpv6 ] && pname=ipv6-icmp
			if [ $proto = gre ]; then
				rule=(--to-source $to)
				sport_check=()
			else
				rule=(--to-source "$bracket:4000")
				sport_check=(--sport 4000)
			fi
			rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $pname -j CT --notrack
			rtr_ipt $fam -t raw -A PREROUTING -i r0 -p $pname -j SSNAT "${rule[@]}" ||
				fail "$IPT: rule for $proto"
			capture_start rcv d0 $N rx $proto
			send --family $fam --proto $proto --src $src --sport 5004 --dst $dst --dport 6000 --count $N >/dev/null
			capture_wait rx >/dev/null
			check rx --proto $proto --count $N --src $to "${sport_check[@]}" --dport 6000 |
				sed "s/^/$backend ipv$fam: /"
			if [ $proto = udplite ]; then
				# Partial coverage: the checksum covers the header and 12 bytes only.
				capture_start rcv d0 $N rx $proto
				send --family $fam --proto udplite --cscov 20 --src $src --sport 5004 --dst $dst \
					--dport 6000 --count $N >/dev/null
				capture_wait rx >/dev/null
				check rx --proto udplite --count $N --src $to --sport 4000 --dport 6000 |
					sed "s/^/$backend ipv$fam coverage 20: /"
			fi
			rtr_ipt $fam -t raw -F
		done
	done
done
[ "$(conntrack_count rtr)" = 0 ] || fail "conntrack entries in the router"
echo "PASS: TCP, UDP-Lite (whole and partial coverage), DCCP, SCTP, ICMP echo, GRE over IPv${FAMS:-4} with both backends"
