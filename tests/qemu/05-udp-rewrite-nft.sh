# The UDP rewrite with the rules added through iptables-nft.
. "$SSNAT_OUT/env.sh"
IPT=iptables-nft IP6T=ip6tables-nft . "$REPO/tests/qemu/04-udp-rewrite-legacy.sh"
