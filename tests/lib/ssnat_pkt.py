#!/usr/bin/python3
"""Packet tool of the xt_SSNAT QEMU tests: build, send, capture and check real packets.

Everything is computed here from scratch (RFC 1071 sums over pseudo-header and segment,
CRC32c for SCTP), independently of the module's incremental arithmetic. Packets are sent
as whole Ethernet frames on an AF_PACKET socket, so the kernel under test receives
exactly these bytes; captures use AF_PACKET with PACKET_AUXDATA, so a packet whose
checksum is still left to the device (CHECKSUM_PARTIAL) is checked for the right
pseudo-header sum instead.

  send     --iface IF --dst-mac MAC --family 4|6 --proto P --src A --dst A --sport N
           --dport N [--count N] [--flows N] [--size N] [--frag N] [--lie udp-len]
           [--zero-csum] [--inter S]
  capture  --iface IF --out FILE --count N [--timeout S] --ready FILE [--proto P]
  check    --cap FILE --family 4|6 --proto P --count N [--src A | --src-range A-B |
           --src-prefix P/L] [--sport N | --sport-range A-B] [--dport N] [--size N]
           [--stable-flows] [--spread] [--fragments] [--zero-csum] [--unchanged-src A]
  show     --cap FILE [--label TEXT]
  tcp-server / tcp-client: a TCP stream whose bytes are checked end to end
  serve    --socket PATH: run the commands above for tests/lib/ssnat-pkt.c, the client
           that tests call instead of this script (one Python start per guest, not one
           per command: under TCG a start costs seconds)
"""
import argparse
import ctypes
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import threading
import time
import traceback

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_CSUM_VALID = 1 << 7

PROTO = {"icmp": 1, "tcp": 6, "udp": 17, "dccp": 33, "icmpv6": 58, "sctp": 132, "udplite": 136, "gre": 47}


# ---------------------------------------------------------------- checksums

def csum_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def checksum(data: bytes) -> int:
    return (~csum_sum(data)) & 0xFFFF


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def sctp_crc(seg: bytes) -> bytes:
    return struct.pack("<I", crc32c(seg[:8] + b"\0\0\0\0" + seg[12:]))


def pseudo(fam: int, src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if fam == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


# offset of the L4 checksum field, and whether it covers the pseudo-header
def l4_check(proto: int, fam: int):
    return {6: (16, True), 17: (6, True), 136: (6, True), 33: (6, True), 1: (2, False),
            58: (2, True)}.get(proto)


# ---------------------------------------------------------------- building

def payload(seq: int, size: int) -> bytes:
    head = b"ssnat %06d " % seq
    body = bytes((seq + i) & 0xFF for i in range(max(0, size - len(head))))
    return head + body


def udplite_coverage(seg):
    """Bytes a UDP-Lite checksum covers: the coverage field, 0 meaning all."""
    cov = struct.unpack("!H", seg[4:6])[0]
    return len(seg) if cov == 0 else min(cov, len(seg))


def build_l4(fam, proto, src, dst, sport, dport, data, zero_csum=False, cscov=0):
    if proto in (6,):
        seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + data
    elif proto in (17, 136):
        ln = 8 + len(data) if proto == 17 else cscov  # UDP-Lite: coverage, 0 = all
        seg = struct.pack("!HHHH", sport, dport, ln, 0) + data
    elif proto == 33:
        # DCCP generic header with X=1 (extended seq), type 2 (Data): 16 bytes
        seg = struct.pack("!HHBBHBBH", sport, dport, 4, 0, 0, (2 << 1) | 1, 0, 0) + b"\0" * 4 + data
        seg = seg[:16] + data
    elif proto == 132:
        chunk = struct.pack("!BBHIHHI", 0, 3, 16 + len(data), 1, 1, 0, 0) + data
        chunk += b"\0" * (-len(chunk) % 4)
        seg = struct.pack("!HHII", sport, dport, 0x01020304, 0) + chunk
    elif proto in (1, 58):
        ty = 8 if proto == 1 else 128
        seg = struct.pack("!BBHHH", ty, 0, 0, sport, 1) + data
    else:
        seg = data
    seg = bytearray(seg)
    fill_check(fam, proto, src, dst, seg)
    if zero_csum and proto == 17:
        seg[6:8] = b"\0\0"
    return bytes(seg)


def fill_check(fam, proto, src, dst, seg):
    if proto == 132:
        seg[8:12] = sctp_crc(bytes(seg))
        return
    lc = l4_check(proto, fam)
    if not lc:
        return
    off, ps = lc
    seg[off:off + 2] = b"\0\0"
    covered = bytes(seg[:udplite_coverage(seg)]) if proto == 136 else bytes(seg)
    s = csum_sum((pseudo(fam, src, dst, proto, len(seg)) if ps else b"") + covered)
    c = (~s) & 0xFFFF
    if c == 0 and proto in (17, 136):
        c = 0xFFFF
    seg[off:off + 2] = struct.pack("!H", c)


def ip_header(fam, proto, src, dst, plen, ident=1, frag=0, mf=False, lie=0):
    if fam == 4:
        flags = (0x2000 if mf else 0) | (frag // 8)
        h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + plen + lie, ident, flags, 64, proto, 0, src, dst))
        h[10:12] = struct.pack("!H", checksum(bytes(h)))
        return bytes(h)
    return struct.pack("!IHBB16s16s", 6 << 28, plen + lie, proto, 64, src, dst)


def build_packets(fam, proto, src, dst, sport, dport, data, frag=0, zero_csum=False, ident=1, lie=None,
                  cscov=0):
    """The IP packets (several when fragmented) of one datagram."""
    s, d = addr_bytes(src), addr_bytes(dst)
    seg = build_l4(fam, proto, s, d, sport, dport, data, zero_csum, cscov)
    if lie == "udp-len":
        seg = seg[:4] + struct.pack("!H", len(seg) + 40) + seg[6:]
    if not frag or len(seg) <= frag:
        return [ip_header(fam, proto, s, d, len(seg), ident) + seg]
    frag -= frag % 8
    out = []
    for off in range(0, len(seg), frag):
        piece = seg[off:off + frag]
        more = off + frag < len(seg)
        if fam == 4:
            out.append(ip_header(4, proto, s, d, len(piece), ident, off, more) + piece)
        else:
            fh = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), ident)
            out.append(ip_header(6, 44, s, d, len(piece) + 8) + fh + piece)
    return out


def build_icmp_error(fam, us, peer, our_port, peer_port, data):
    """An ICMP port unreachable that `us` sends to `peer` about a UDP datagram
    peer:peer_port -> us:our_port it received (quoted whole)."""
    quoted = build_packets(fam, 17, peer, us, peer_port, our_port, data)[0]
    proto = 1 if fam == 4 else 58
    head = struct.pack("!BBHI", 3 if fam == 4 else 1, 3 if fam == 4 else 4, 0, 0)
    seg = bytearray(head + quoted)
    fill_check(fam, proto, addr_bytes(us), addr_bytes(peer), seg)
    return ip_header(fam, proto, addr_bytes(us), addr_bytes(peer), len(seg)) + bytes(seg)


def addr_bytes(a: str) -> bytes:
    return ipaddress.ip_address(a).packed


# ---------------------------------------------------------------- parsing

def parse_ip(pkt: bytes):
    """Network-layer facts of a packet, or None."""
    if not pkt:
        return None
    v = pkt[0] >> 4
    if v == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 15) * 4
        tot = struct.unpack("!H", pkt[2:4])[0]
        fl = struct.unpack("!H", pkt[6:8])[0]
        return dict(fam=4, src=pkt[12:16], dst=pkt[16:20], proto=pkt[9], l4=ihl, end=min(tot, len(pkt)),
                    ident=struct.unpack("!H", pkt[4:6])[0], frag=(fl & 0x1FFF) * 8, mf=bool(fl & 0x2000))
    if v == 6 and len(pkt) >= 40:
        nh, off = pkt[6], 40
        frag, mf, ident = 0, False, None
        if nh == 44:
            nh2, _, fo, ident = struct.unpack("!BBHI", pkt[40:48])
            nh, off, frag, mf = nh2, 48, fo & 0xFFF8, bool(fo & 1)
        return dict(fam=6, src=pkt[8:24], dst=pkt[24:40], proto=nh, l4=off,
                    end=min(40 + struct.unpack("!H", pkt[4:6])[0], len(pkt)), ident=ident, frag=frag, mf=mf)
    return None


def ports(info, pkt):
    seg = pkt[info["l4"]:info["end"]]
    p = info["proto"]
    if p in (1, 58):
        return (struct.unpack("!H", seg[4:6])[0], 0) if len(seg) >= 8 else (None, None)
    if p in (6, 17, 136, 33, 132) and len(seg) >= 4:
        return struct.unpack("!HH", seg[:4])
    return None, None


def verify(info, pkt, partial=False):
    """Problems with the checksums of a whole (unfragmented) packet."""
    errs = []
    if info["fam"] == 4 and checksum(pkt[:info["l4"]]) != 0:
        errs.append("bad IPv4 header checksum")
    seg = pkt[info["l4"]:info["end"]]
    p = info["proto"]
    if p == 132:
        if len(seg) >= 12 and not partial and seg[8:12] != sctp_crc(seg):
            errs.append("bad SCTP CRC32c")
        return errs
    lc = l4_check(p, info["fam"])
    if not lc or len(seg) < lc[0] + 2:
        return errs
    off, ps = lc
    field = struct.unpack("!H", seg[off:off + 2])[0]
    if p == 17 and info["fam"] == 4 and field == 0:
        return errs
    if field == 0 and p in (17, 136):
        errs.append("UDP checksum zero")
    ph = pseudo(info["fam"], info["src"], info["dst"], p, len(seg)) if ps else b""
    if partial:
        # CHECKSUM_PARTIAL: the field holds the pseudo-header sum for the device.
        want = csum_sum(ph)
        if field != want and not (field == 0xFFFF and want == 0) and not (field == 0 and want == 0xFFFF):
            errs.append("partial checksum 0x%04x, pseudo-header sum 0x%04x" % (field, want))
    elif csum_sum(ph + (seg[:udplite_coverage(seg)] if p == 136 else seg)) != 0xFFFF:
        errs.append("bad L4 checksum 0x%04x (protocol %d)" % (field, p))
    return errs


def reassemble(frags):
    """Reassembles the fragments of one datagram into a whole packet (or None)."""
    frags = sorted(frags, key=lambda f: f[0]["frag"])
    if frags[0][0]["frag"] != 0 or frags[-1][0]["mf"]:
        return None
    first_info, first = frags[0]
    data = b""
    for info, pkt in frags:
        if info["frag"] != len(data):
            return None
        data += pkt[info["l4"]:info["end"]]
    fam = first_info["fam"]
    hdr = ip_header(fam, first_info["proto"], first_info["src"], first_info["dst"], len(data))
    return hdr + data


# ---------------------------------------------------------------- send / capture

def mac_bytes(m: str) -> bytes:
    return bytes(int(x, 16) for x in m.split(":"))


def cmd_send(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src_mac = s.getsockname()[4]
    etype = ETH_P_IP if a.family == 4 else ETH_P_IPV6
    eth = mac_bytes(a.dst_mac) + src_mac + struct.pack("!H", etype)
    n = 0
    for name in a.proto.split(","):
        a.proto = name
        n += send_one(a, s, eth)
    print("sent %d packets (%d datagrams per protocol, %d flows) %s -> %s:%d" % (
        n, a.count, a.flows, a.src, a.dst, a.dport))


def send_one(a, s, eth):
    proto = PROTO.get(a.proto)
    n = 0
    for i in range(a.count):
        flow = i % a.flows
        sport = a.sport + flow
        src = a.src
        if a.src_flows:
            src = str(ipaddress.ip_address(a.src) + flow)
        if a.proto == "icmp-error":
            pkts = [build_icmp_error(a.family, src, a.dst, sport, a.dport, payload(i, a.size))]
        else:
            pkts = build_packets(a.family, proto, src, a.dst, sport, a.dport, payload(i, a.size), a.frag,
                                 a.zero_csum, ident=i + 1, lie=a.lie, cscov=a.cscov)
        for p in pkts:
            s.send(eth + p)
            n += 1
        if a.inter:
            time.sleep(a.inter)
    return n


def cmd_capture(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.bind((a.iface, 0))
    wanted = {PROTO[p] for p in a.proto.split(",") if p in PROTO} if a.proto else None
    echo_only = bool(a.proto) and bool({"icmp", "icmpv6"} & set(a.proto.split(",")))
    open(a.ready, "w").close()
    got = []
    deadline = time.time() + a.timeout
    while len(got) < a.count and time.time() < deadline:
        wait = max(0.0, deadline - time.time())
        if a.idle and got:
            wait = min(wait, a.idle)
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            break
        data, anc, _, addr = s.recvmsg(65600, socket.CMSG_SPACE(64))
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        status = 0
        for lvl, typ, val in anc:
            if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
                status = struct.unpack("I", val[:4])[0]
        etype = struct.unpack("!H", data[12:14])[0]
        if etype not in (ETH_P_IP, ETH_P_IPV6):
            continue
        pkt = data[14:]
        info = parse_ip(pkt)
        if not info or (info["proto"] == 58 and len(pkt) > info["l4"] and pkt[info["l4"]] in (130, 131, 132, 133, 134, 135, 136, 137, 143)):
            continue  # neighbour discovery, MLD
        if a.proto == "icmp-error":
            wanted = {1 if info["fam"] == 4 else 58}
        if wanted is not None and info["proto"] not in wanted and not (info["fam"] == 6 and info["frag"]):
            continue
        if echo_only and info["proto"] in (1, 58) and len(pkt) > info["l4"] and pkt[info["l4"]] not in (8, 128):
            continue  # only the echo requests sent; not the router's errors about replies
        got.append({"status": status, "pkt": pkt.hex()})
    with open(a.out, "w") as f:
        json.dump(got, f)
    print("captured %d packets on %s" % (len(got), a.iface))


def load(cap):
    with open(cap) as f:
        return [(c["status"], bytes.fromhex(c["pkt"])) for c in json.load(f)]


def in_range(x, spec):
    lo, hi = spec
    return lo <= x <= hi


def cmd_check(a):
    """Checks the datagrams of each protocol of --proto (a comma list; --count each)."""
    caps = load(a.cap)
    specs = [(p.split(":") + [None])[:2] for p in a.proto.split(",")]
    names = [n for n, _ in specs]
    counts = {n: int(c) if c else a.count for n, c in specs}
    protos = {PROTO[n] for n in names}
    strays = [c for c in caps if (parse_ip(c[1]) or {}).get("proto") not in protos
              and not (parse_ip(c[1]) or {}).get("frag")]
    failed = False
    for name in names:
        a.proto = name
        a.count_this = counts[name]
        mine = [c for c in caps if (parse_ip(c[1]) or {}).get("proto") == PROTO[name]
                or ((parse_ip(c[1]) or {}).get("fam") == 6 and (parse_ip(c[1]) or {}).get("frag"))]
        failed |= not check_one(a, mine)
    if strays:
        print("  %d packets of other protocols captured" % len(strays))
        failed = True
    if failed:
        sys.exit(1)


def check_one(a, caps):
    errs = []
    proto = PROTO[a.proto]
    datagrams = {}
    flows = {}
    whole = []
    src_lo = src_hi = None
    if a.src:
        src_lo = src_hi = ipaddress.ip_address(a.src)
    if a.src_range:
        lo, hi = a.src_range.split("-")
        src_lo, src_hi = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
    net = ipaddress.ip_network(a.src_prefix) if a.src_prefix else None
    either = {}
    for t in (a.either or "").split(","):
        if t:
            addr, port = t.rsplit(":", 1)
            either[(str(ipaddress.ip_address(addr.strip("[]"))), int(port))] = 0
    sp = None
    if a.sport is not None:
        sp = (a.sport, a.sport)
    if a.sport_range:
        lo, hi = a.sport_range.split("-")
        sp = (int(lo), int(hi))

    for n, (status, pkt) in enumerate(caps):
        info = parse_ip(pkt)
        what = "packet %d" % n
        if info is None:
            errs.append("%s: not IP" % what)
            continue
        src = ipaddress.ip_address(info["src"])
        if src_lo is not None and not (src_lo <= src <= src_hi):
            errs.append("%s: source %s outside %s-%s" % (what, src, src_lo, src_hi))
        if net is not None and src not in net:
            errs.append("%s: source %s outside %s" % (what, src, net))
        if a.unchanged_src and str(src) != a.unchanged_src:
            errs.append("%s: source %s, expected it unchanged (%s)" % (what, src, a.unchanged_src))
        if info["frag"] or info["mf"]:
            datagrams.setdefault((info["src"], info["ident"]), []).append((info, pkt))
            continue
        whole.append((status, info, pkt))

    for key, frags in datagrams.items():
        srcs = {f[0]["src"] for f in frags}
        if len(srcs) != 1:
            errs.append("fragments of one datagram with different sources: %s" % srcs)
        pkt = reassemble(frags)
        if pkt is None:
            errs.append("fragments of datagram %r do not reassemble" % (key[1],))
            continue
        whole.append((0, parse_ip(pkt), pkt))
    if a.fragments and not datagrams:
        errs.append("no fragments captured")

    if len(whole) != a.count_this:
        errs.append("expected %d datagrams, got %d" % (a.count_this, len(whole)))
    for n, (status, info, pkt) in enumerate(whole):
        what = "datagram %d" % n
        if info["proto"] != proto:
            errs.append("%s: protocol %d, expected %d" % (what, info["proto"], proto))
            continue
        partial = bool(status & TP_STATUS_CSUMNOTREADY)
        bad = verify(info, pkt, partial)
        for e in bad:
            errs.append("%s: %s" % (what, e))
        if bad:
            # The bytes, for whoever investigates.
            errs.append("%s: status 0x%x, bytes %s" % (what, status, pkt.hex()))
        s_port, d_port = ports(info, pkt)
        if sp is not None and proto in (1, 6, 17, 33, 58, 132, 136) and (s_port is None or not in_range(s_port, sp)):
            errs.append("%s: source port %s outside %d-%d" % (what, s_port, sp[0], sp[1]))
        if either:
            key = (str(ipaddress.ip_address(info["src"])), s_port)
            if key in either:
                either[key] += 1
            else:
                errs.append("%s: source %s port %s is none of the translations %s" % (
                    what, info["src"], s_port, sorted(either)))
        if a.dport is not None and proto in (6, 17, 33, 132, 136) and d_port != a.dport:
            errs.append("%s: destination port %s, expected %d" % (what, d_port, a.dport))
        seg = pkt[info["l4"]:info["end"]]
        hl = {6: 20, 17: 8, 136: 8, 33: 16, 132: 28, 1: 8, 58: 8}.get(proto, 0)
        data = seg[hl:]
        if proto == 132:
            data = data[:struct.unpack("!H", seg[14:16])[0] - 16]
        try:
            seq = int(data[6:12])
        except ValueError:
            errs.append("%s: payload not recognised" % what)
            continue
        if data != payload(seq, a.size):
            errs.append("%s: payload changed" % what)
        if a.zero_csum and proto == 17 and seg[6:8] != b"\0\0":
            errs.append("%s: UDP checksum not kept zero" % what)
        flow = seq % a.flows
        flows.setdefault(flow, set()).add((info["src"], s_port))

    if a.stable_flows:
        unstable = [f for f, t in flows.items() if len(t) != 1]
        if unstable:
            errs.append("%d flows got more than one translation, e.g. flow %d: %s" % (
                len(unstable), unstable[0], flows[unstable[0]]))
    if a.spread:
        addrs = {}
        for t in flows.values():
            for (s, _) in t:
                addrs[s] = addrs.get(s, 0) + 1
        span = int(src_hi) - int(src_lo) + 1 if src_lo is not None else 1
        used = len(addrs)
        mean = len(flows) / span
        worst = max(addrs.values()) if addrs else 0
        print("spread: %d flows over %d of %d addresses, most on one: %d (mean %.1f)" % (
            len(flows), used, span, worst, mean))
        if used < span * 0.9 or worst > mean * 2.5:
            errs.append("flows not spread evenly over the range")
    if either:
        print("translations: " + ", ".join("%s:%d x %d" % (k[0], k[1], n) for k, n in sorted(either.items())))
        if a.either_all and not all(either.values()):
            errs.append("not every translation was seen")
    for e in errs[:25]:
        print("  " + e)
    if errs:
        print("check: %s: %d problem(s) in %d packets" % (a.proto, len(errs), len(caps)))
        return False
    print("check: %d %s datagrams (%d packets), sources and checksums as expected, payload intact" % (
        len(whole), a.proto, len(caps)))
    return True


def cmd_check_icmp_error(a):
    """Checks ICMP errors: outer source, the quoted packet's destination and port."""
    errs = []
    caps = load(a.cap)
    if len(caps) != a.count:
        errs.append("expected %d ICMP errors, got %d" % (a.count, len(caps)))
    for n, (status, pkt) in enumerate(caps):
        info = parse_ip(pkt)
        what = "error %d" % n
        errs += ["%s: %s" % (what, e) for e in verify(info, pkt)]
        if ipaddress.ip_address(info["src"]) != ipaddress.ip_address(a.src):
            errs.append("%s: outer source %s, expected %s" % (what, ipaddress.ip_address(info["src"]), a.src))
        inner = pkt[info["l4"] + 8:info["end"]]
        ii = parse_ip(inner)
        if ii is None:
            errs.append("%s: no quoted packet" % what)
            continue
        if ii["fam"] == 4 and checksum(inner[:ii["l4"]]) != 0:
            errs.append("%s: bad checksum of the quoted IPv4 header" % what)
        errs += ["%s: quoted packet: %s" % (what, e) for e in verify(ii, inner)]
        if ipaddress.ip_address(ii["dst"]) != ipaddress.ip_address(a.src):
            errs.append("%s: quoted destination %s, expected %s" % (what, ipaddress.ip_address(ii["dst"]), a.src))
        sp, dp = ports(ii, inner)
        if a.sport is not None and dp != a.sport:
            errs.append("%s: quoted destination port %s, expected %d" % (what, dp, a.sport))
    for e in errs[:20]:
        print("  " + e)
    if errs:
        sys.exit(1)
    print("check: %d ICMP errors from %s, quoted packet translated to match, checksums valid" % (len(caps), a.src))


def cmd_check_stream(a):
    """Checks every captured segment of a stream: source and checksums."""
    errs = []
    caps = load(a.cap)
    partial = 0
    for n, (status, pkt) in enumerate(caps):
        info = parse_ip(pkt)
        p = status & TP_STATUS_CSUMNOTREADY != 0
        partial += p
        errs += ["segment %d: %s" % (n, e) for e in verify(info, pkt, p)]
        if ipaddress.ip_address(info["src"]) != ipaddress.ip_address(a.src):
            errs.append("segment %d: source %s" % (n, ipaddress.ip_address(info["src"])))
        sp, _ = ports(info, pkt)
        if a.sport is not None and sp != a.sport:
            errs.append("segment %d: source port %s" % (n, sp))
    if not caps:
        errs.append("no segment captured")
    for e in errs[:20]:
        print("  " + e)
    if errs:
        sys.exit(1)
    big = sum(1 for _, p in caps if len(p) > 1500)
    print("check: %d segments from %s (%d still CHECKSUM_PARTIAL, %d larger than the MTU: GSO), "
          "checksums valid" % (len(caps), a.src, partial, big))


def cmd_show(a):
    for status, pkt in load(a.cap):
        info = parse_ip(pkt)
        if not info:
            continue
        sp, dp = ports(info, pkt)
        errs = verify(info, pkt, bool(status & TP_STATUS_CSUMNOTREADY)) if not (info["frag"] or info["mf"]) else []
        src = ipaddress.ip_address(info["src"])
        dst = ipaddress.ip_address(info["dst"])
        fmt = "%s:%s" if info["fam"] == 4 else "[%s]:%s"
        sums = []
        if info["fam"] == 4:
            sums.append("ip 0x%04x" % struct.unpack("!H", pkt[10:12])[0])
        lc = l4_check(info["proto"], info["fam"])
        if lc and not (info["frag"] or info["mf"]):
            off = info["l4"] + lc[0]
            sums.append("l4 0x%04x" % struct.unpack("!H", pkt[off:off + 2])[0])
        print("%-7s %-22s -> %-22s csum %s: %s" % (a.label, fmt % (src, sp), fmt % (dst, dp), " ".join(sums),
                                                  "valid" if not errs else "; ".join(errs)))


# ---------------------------------------------------------------- TCP stream

def stream_bytes(n):
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


def cmd_tcp_server(a):
    fam = socket.AF_INET if a.family == 4 else socket.AF_INET6
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(1)
    open(a.ready, "w").close()
    s.settimeout(a.timeout)
    c, peer = s.accept()
    c.settimeout(a.timeout)
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    ok = got == stream_bytes(a.bytes)
    print("tcp: %d bytes from %s, %s" % (len(got), peer[0], "intact" if ok else "CORRUPT"))
    if not ok or peer[0] != a.expect_peer:
        print("tcp: expected %d intact bytes from %s" % (a.bytes, a.expect_peer))
        sys.exit(1)


def cmd_tcp_client(a):
    fam = socket.AF_INET if a.family == 4 else socket.AF_INET6
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.bind, a.sport))
    s.settimeout(a.timeout)
    s.connect((a.dst, a.port))
    s.sendall(stream_bytes(a.bytes))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    print("tcp: sent %d bytes" % a.bytes)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--iface", required=True)
    s.add_argument("--dst-mac", required=True)
    s.add_argument("--family", type=int, default=4)
    s.add_argument("--proto", default="udp")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--sport", type=int, default=5004)
    s.add_argument("--dport", type=int, default=6000)
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--flows", type=int, default=1)
    s.add_argument("--src-flows", action="store_true", help="flows differ in source address too")
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--frag", type=int, default=0)
    s.add_argument("--lie")
    s.add_argument("--cscov", type=int, default=0, help="UDP-Lite checksum coverage (0: all)")
    s.add_argument("--zero-csum", action="store_true")
    s.add_argument("--inter", type=float, default=0.0)
    c = sub.add_parser("capture")
    c.add_argument("--iface", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--timeout", type=float, default=30)
    c.add_argument("--ready", required=True)
    c.add_argument("--proto")
    c.add_argument("--idle", type=float, default=0, help="stop after this long without a packet")
    k = sub.add_parser("check-stream")
    k.add_argument("--cap", required=True)
    k.add_argument("--src", required=True)
    k.add_argument("--sport", type=int)
    k = sub.add_parser("check")
    k.add_argument("--cap", required=True)
    k.add_argument("--proto", default="udp")
    k.add_argument("--count", type=int, required=True)
    k.add_argument("--src")
    k.add_argument("--src-range")
    k.add_argument("--src-prefix")
    k.add_argument("--unchanged-src")
    k.add_argument("--sport", type=int)
    k.add_argument("--sport-range")
    k.add_argument("--dport", type=int)
    k.add_argument("--size", type=int, default=64)
    k.add_argument("--flows", type=int, default=1)
    k.add_argument("--stable-flows", action="store_true")
    k.add_argument("--spread", action="store_true")
    k.add_argument("--fragments", action="store_true")
    k.add_argument("--either", help="ADDR:PORT,...: each datagram carries one of these (source, port) pairs")
    k.add_argument("--either-all", action="store_true", help="and every pair of --either is seen")
    k.add_argument("--zero-csum", action="store_true")
    e = sub.add_parser("check-icmp-error")
    e.add_argument("--cap", required=True)
    e.add_argument("--count", type=int, required=True)
    e.add_argument("--src", required=True)
    e.add_argument("--sport", type=int)
    w = sub.add_parser("show")
    w.add_argument("--cap", required=True)
    w.add_argument("--label", default="")
    t = sub.add_parser("tcp-server")
    t.add_argument("--family", type=int, default=4)
    t.add_argument("--bind", required=True)
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--bytes", type=int, required=True)
    t.add_argument("--expect-peer", required=True)
    t.add_argument("--ready", required=True)
    t.add_argument("--timeout", type=float, default=60)
    t = sub.add_parser("tcp-client")
    t.add_argument("--family", type=int, default=4)
    t.add_argument("--bind", required=True)
    t.add_argument("--sport", type=int, required=True)
    t.add_argument("--dst", required=True)
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--bytes", type=int, required=True)
    t.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    {"send": cmd_send, "capture": cmd_capture, "check": cmd_check, "show": cmd_show,
     "tcp-server": cmd_tcp_server, "check-icmp-error": cmd_check_icmp_error, "check-stream": cmd_check_stream, "tcp-client": cmd_tcp_client}[a.cmd](a)


# ---------------------------------------------------------------- server

def _worker(conn):
    """One request, in a child of the server: fds 0-2 and argv (NUL-separated) from the
    client. The child becomes the client's stand-in (its mount and network namespaces,
    CPU affinity, working directory and standard streams), runs argv and sends its exit
    status back as 4 bytes; if the client goes away first, so does the child."""
    msg, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    argv = [x.decode() for x in msg.split(b"\0")[:-1]]
    libc = _LIBC[0]
    # (setns of a mount namespace wants a single thread: the watcher starts after it)
    for ns in ("mnt", "net"):
        fd = os.open("/proc/%d/ns/%s" % (pid, ns), os.O_RDONLY)
        if libc.setns(fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "setns %s of pid %d" % (ns, pid))
        os.close(fd)
    os.sched_setaffinity(0, os.sched_getaffinity(pid))
    os.chdir(os.readlink("/proc/%d/cwd" % pid))
    for i, fd in enumerate(fds[:3]):
        os.dup2(fd, i)
    for fd in fds:
        os.close(fd)
    threading.Thread(target=lambda: (conn.recv(1), os._exit(1)), daemon=True).start()
    sys.argv = ["ssnat_pkt.py"] + argv
    code = 0
    try:
        main()
    except SystemExit as e:
        if isinstance(e.code, int):
            code = e.code
        elif e.code is not None:
            print(e.code, file=sys.stderr)
            code = 1
    return code


_LIBC = []


def serve(path):
    import gc
    import signal
    _LIBC.append(ctypes.CDLL(None, use_errno=True))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies: nobody waits for a worker
    gc.freeze()  # (a child's collections then leave the server's pages shared)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path + ".new")
    srv.listen(16)
    os.rename(path + ".new", path)  # clients see a socket only once it listens
    while True:
        conn, _ = srv.accept()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            code = 1
            try:
                srv.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                code = _worker(conn)
            except BaseException:  # as the script would report it (or a failed setns)
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    conn.sendall(struct.pack("i", code & 0xFF))
                finally:
                    os._exit(code & 0xFF)
        conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 4 and sys.argv[2] == "--socket":
        serve(sys.argv[3])
    else:
        main()
