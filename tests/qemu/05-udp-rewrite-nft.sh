# The UDP rewrite with the rule added through iptables-nft.
. "$SSNAT_OUT/env.sh"
IPT=iptables-nft . "$REPO/tests/qemu/04-udp-rewrite-legacy.sh"
