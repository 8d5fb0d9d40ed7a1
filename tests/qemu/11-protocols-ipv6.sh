# Every protocol over IPv6, both backends (see 11-protocols-ipv4.sh).
. "$SSNAT_OUT/env.sh"
FAMS=6 . "$REPO/tests/qemu/11-protocols-ipv4.sh"
