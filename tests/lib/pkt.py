#!/usr/bin/python3
"""Packet tools for the xt_SSNAT QEMU tests: send, capture and check real packets.

Checksums are recomputed from scratch here (RFC 1071 over the pseudo-header and the
whole segment), independently of the module's incremental arithmetic.

  pkt.py send    --src A --sport P --dst A --dport P [--count N] [--zero-csum]
  pkt.py capture --iface IF --out FILE.pcap --count N --timeout S --ready FILE
  pkt.py check   --pcap FILE --src A [--sport P] --dport P --count N
  pkt.py show    --pcap FILE [--label TEXT]
"""
import argparse
import ipaddress
import logging
import struct
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, UDP, Raw, conf, rdpcap, send, sniff, wrpcap  # noqa: E402
from scapy.supersocket import L3RawSocket  # noqa: E402


def payload(seq: int, size: int) -> bytes:
    head = b"ssnat %06d " % seq
    return (head + bytes((seq + i) & 0xFF for i in range(max(0, size - len(head)))))[:max(size, len(head))]


def csum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ipv4_header_ok(raw: bytes) -> bool:
    ihl = (raw[0] & 0x0F) * 4
    return csum16(raw[:ihl]) == 0xFFFF


def udp4_checksum_ok(raw: bytes) -> tuple[bool, str]:
    ihl = (raw[0] & 0x0F) * 4
    seg = raw[ihl:struct.unpack("!H", raw[2:4])[0]]
    check = struct.unpack("!H", seg[6:8])[0]
    if check == 0:
        return True, "none"
    pseudo = raw[12:20] + struct.pack("!BBH", 0, 17, len(seg))
    return csum16(pseudo + seg) == 0xFFFF, "0x%04x" % check


def cmd_send(a):
    conf.L3socket = L3RawSocket  # the kernel routes and resolves neighbours
    pkts = []
    for i in range(a.count):
        p = IP(src=a.src, dst=a.dst, id=i + 1) / UDP(sport=a.sport, dport=a.dport) / Raw(payload(i, a.size))
        p = IP(bytes(p))  # let scapy fill every checksum now
        if a.zero_csum:
            p[UDP].chksum = 0
        pkts.append(p)
    send(pkts, verbose=False, inter=a.inter)
    print("sent %d UDP packets %s:%d -> %s:%d" % (a.count, a.src, a.sport, a.dst, a.dport))


def cmd_capture(a):
    def started():
        open(a.ready, "w").close()

    pkts = sniff(iface=a.iface, count=a.count, timeout=a.timeout, started_callback=started,
                 lfilter=lambda p: IP in p and UDP in p)
    wrpcap(a.out, pkts)
    print("captured %d packets on %s" % (len(pkts), a.iface))


def cmd_check(a):
    pkts = [p for p in rdpcap(a.pcap) if IP in p and UDP in p]
    errors = []
    if len(pkts) != a.count:
        errors.append("expected %d packets, captured %d" % (a.count, len(pkts)))
    for n, p in enumerate(pkts):
        raw = bytes(p[IP])
        ip, udp = p[IP], p[UDP]
        seq = int(bytes(udp.payload)[6:12])
        what = "packet %d (seq %d)" % (n, seq)
        if ip.src != a.src:
            errors.append("%s: source address %s, expected %s" % (what, ip.src, a.src))
        if a.sport is not None and udp.sport != a.sport:
            errors.append("%s: source port %d, expected %d" % (what, udp.sport, a.sport))
        if udp.dport != a.dport:
            errors.append("%s: destination port %d, expected %d" % (what, udp.dport, a.dport))
        if not ipv4_header_ok(raw):
            errors.append("%s: bad IPv4 header checksum 0x%04x" % (what, ip.chksum))
        ok, val = udp4_checksum_ok(raw)
        if not ok:
            errors.append("%s: bad UDP checksum %s" % (what, val))
        if a.zero_csum and udp.chksum != 0:
            errors.append("%s: UDP checksum 0x%04x, expected 0 (none)" % (what, udp.chksum))
        if bytes(udp.payload) != payload(seq, a.size):
            errors.append("%s: payload changed" % what)
    for e in errors[:20]:
        print("  " + e)
    if errors:
        print("check: %d problem(s) in %d packets" % (len(errors), len(pkts)))
        sys.exit(1)
    print("check: %d packets from %s%s, IPv4 and UDP checksums valid, payload intact"
          % (len(pkts), a.src, "" if a.sport is None else ":%d" % a.sport))


def cmd_show(a):
    for p in rdpcap(a.pcap):
        if IP in p and UDP in p:
            raw = bytes(p[IP])
            ok, val = udp4_checksum_ok(raw)
            print("%-8s %s:%d -> %s:%d  ip-csum %s  udp-csum %s %s  %r" % (
                a.label, p[IP].src, p[UDP].sport, p[IP].dst, p[UDP].dport,
                "ok" if ipv4_header_ok(raw) else "BAD", val, "ok" if ok else "BAD",
                bytes(p[UDP].payload)[:12].decode(errors="replace")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--src", required=True)
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--inter", type=float, default=0.0)
    s.add_argument("--zero-csum", action="store_true")
    c = sub.add_parser("capture")
    c.add_argument("--iface", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--timeout", type=float, default=30)
    c.add_argument("--ready", required=True)
    k = sub.add_parser("check")
    k.add_argument("--pcap", required=True)
    k.add_argument("--src", required=True)
    k.add_argument("--sport", type=int)
    k.add_argument("--dport", type=int, required=True)
    k.add_argument("--count", type=int, required=True)
    k.add_argument("--size", type=int, default=64)
    k.add_argument("--zero-csum", action="store_true")
    w = sub.add_parser("show")
    w.add_argument("--pcap", required=True)
    w.add_argument("--label", default="")
    a = ap.parse_args()
    {"send": cmd_send, "capture": cmd_capture, "check": cmd_check, "show": cmd_show}[a.cmd](a)


if __name__ == "__main__":
    main()
