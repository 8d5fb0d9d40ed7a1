#!/usr/bin/python3
"""Checks the captures of the forwarding benchmark (tcpdump -w at the receiver).

Each line of SPEC is: NAME PCAP SRC SPORT_LO SPORT_HI DPORT COUNT IPLEN. Every captured
frame must be IPv4/UDP from SRC (an address, or a range A-B) with a source port in
SPORT_LO-SPORT_HI, to DPORT, IPLEN
bytes of IP, with a valid IPv4 header checksum and a valid (or zero) UDP checksum,
computed from scratch by tests/lib/ssnat_pkt.py; COUNT frames exactly. One line per
capture; exit status 1 if any is wrong.

  capcheck.py SPEC
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib"))
import ssnat_pkt  # noqa: E402


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def check(name, path, src, sport_lo, sport_hi, dport, count, iplen):
    errs = []
    n = 0
    ports = set()
    lo, _, hi = src.partition("-")
    lo = ipaddress.ip_address(lo)
    hi = ipaddress.ip_address(hi) if hi else lo
    for fr in frames(path):
        n += 1
        what = "frame %d" % n
        if len(fr) < 14 or struct.unpack("!H", fr[12:14])[0] != 0x0800:
            errs.append("%s: not IPv4" % what)
            continue
        pkt = fr[14:]
        info = ssnat_pkt.parse_ip(pkt)
        if not info or info["proto"] != 17:
            errs.append("%s: not UDP" % what)
            continue
        s = ipaddress.ip_address(info["src"])
        sp, dp = ssnat_pkt.ports(info, pkt)
        if not lo <= s <= hi:
            errs.append("%s: source %s, expected %s" % (what, s, src))
        if sp is None or not sport_lo <= sp <= sport_hi:
            errs.append("%s: source port %s outside %d-%d" % (what, sp, sport_lo, sport_hi))
        if dp != dport:
            errs.append("%s: destination port %s, expected %d" % (what, dp, dport))
        if info["end"] != iplen:
            errs.append("%s: %d bytes of IP, expected %d" % (what, info["end"], iplen))
        for e in ssnat_pkt.verify(info, pkt):
            errs.append("%s: %s (bytes %s)" % (what, e, pkt[:48].hex()))
        ports.add(sp)
    if n != count:
        errs.append("%d frames captured, expected %d" % (n, count))
    if errs:
        print("FAIL check %s: %s" % (name, "; ".join(errs[:5])))
        return False
    print("ok check %s: %d frames from %s port %s, checksums valid" % (
        name, n, src, min(ports) if len(ports) == 1 else "%d-%d (%d ports)" % (min(ports), max(ports), len(ports))))
    return True


def main():
    ok = True
    with open(sys.argv[1]) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            ok &= check(w[0], w[1], w[2], int(w[3]), int(w[4]), int(w[5]), int(w[6]), int(w[7]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
