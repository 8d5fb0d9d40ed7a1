# The same through iptables-nft (nft_compat runs the same checkentry).
. "$SSNAT_OUT/env.sh"
IPT=iptables-nft IP6T=ip6tables-nft . "$REPO/tests/qemu/02-rules-legacy.sh"
