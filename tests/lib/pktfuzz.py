#!/usr/bin/python3
"""Packet fuzzer of the xt_SSNAT QEMU tests (tests/qemu/30-fuzz-packets.sh).

Valid seed packets of every kind SSNAT handles (IPv4 and IPv6; TCP, UDP, UDP-Lite,
DCCP, SCTP, ICMP and ICMPv6 echo, ICMP errors quoting each of those, fragments first
and later, IPv4 options, IPv6 extension header chains, other protocols) are mutated
(truncated at header boundaries and one byte either side, lying lengths, bad IHL, zero
and 0xffff checksums, random byte flips) and sent through SSNAT rules of every mapping
form (fixed, range, prefix, port only, profile), through iptables-legacy and
iptables-nft in turn: forwarded (AF_PACKET frames into the router; frames under a page
are linear skbs, bigger ones paged, their linear part chosen with a PACKET_VNET_HDR
header length) and locally generated (raw sockets in the router, IP_HDRINCL). One
process holds a socket in each namespace (setns): it builds and sends everything,
captures at the receiver into memory, reads the counters, and checks each packet the
receiver gets against a model of ssnat-core's packet path (packet.rs, hash.rs) written
apart from the module, whose checksums it never reuses:

  - a packet the model says SSNAT skips arrives byte for byte as the rule saw it,
    apart from what forwarding itself changes (TTL or hop limit, the IPv4 header
    checksum, which must be valid);
  - a packet the model says SSNAT rewrites arrives with exactly the translation of the
    rule's mapping (source address and port or echo identifier; in an ICMP error about
    a packet to the translated host, the quoted destination and port), every other
    byte as it was, and each checksum it touches moved by exactly the change of what
    it covers (the one's-complement sum over what it covers, pseudo-header included,
    computed from scratch, is the same before and after; a zero UDP checksum over IPv4
    stays zero, no other UDP or UDP-Lite checksum becomes zero); SCTP's CRC32c is
    valid when the port moved;
  - per rule, the plain counting rule in front of it (iptables-save -c) equals
    packets + tracked + every skip reason of /proc/net/xt_SSNAT, and each of those
    counters equals what the model says of the packets that reached the rule.

How a packet reaches a rule: each mapping form has destination subnets of its own (per
path); a packet's destination address is unique, so what the receiver gets is matched
to what was sent by it (fragments of a datagram share it; then by content).

An IPv6 extension header past the end of the packet is malformed, as one whose length
runs past the payload is (header-chain is for chains longer than MAX_PLAN_LEN bytes or
of more than 8 headers). The run names such packets (CUT_CHAIN) by rule, should a
counter disagree.

  pktfuzz.py run --seed N --count N --rtr-mac MAC --profile NAME:FAM:PATH:SPEC[,SEED]...
                 [--backends legacy,nft] [--out DIR]
  pktfuzz.py selftest   the model against cases worked out from packet.rs, the CRC32c
                        against ssnat_pkt's
  pktfuzz.py model      stdin lines "FAM SPEC SEED HEX" (SPEC as --to-source, or :PORTS
                        for --to-ports): prints "SKIP REASON" or "DONE HEX" (the fields
                        SSNAT writes, checksums as they were), to compare with
                        ssnat-core itself on the host
"""
import time
T0 = time.time()
# The guest runs this under TCG with a cold file cache: every module imported costs
# seconds, so the run imports only these (no argparse, re, json, subprocess; ssnat_pkt,
# which brings argparse and json, only for the self-test).
import bisect  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import mmap  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import select  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402

# ---------------------------------------------------------------- the model: mapping

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
FIXED, KEEP, RANGE, PREFIX = range(4)
TRUNC, MALF, CHAIN, NOPORT, UNCH, NOMEM = range(6)
REASONS = ("truncated", "malformed", "header-chain", "no-port", "unchanged", "no-memory", "no-entry")
COUNTERS = ("packets", "bytes", "tracked") + REASONS


class Mapping:
    """A rule's mapping, as ssnat-core's Mapping::from_info has it."""
    __slots__ = ("fam", "al", "kind", "a", "b", "plen", "ports", "seed", "text")

    def __init__(self, fam, kind, a=b"", b=b"", plen=0, ports=None, seed=0, text=""):
        self.fam, self.al, self.kind, self.a, self.b = fam, 4 if fam == 4 else 16, kind, a, b
        self.plen, self.ports, self.seed, self.text = plen, ports, seed, text


def addr(text):
    """An IPv4 or IPv6 address in bytes."""
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def parse_mapping(fam, to_source=None, to_ports=None, seed=0):
    """A Mapping from --to-source or --to-ports text (ssnat-spec's syntax, the forms
    used here)."""
    kind, a, b, plen, ports = KEEP, b"", b"", 0, None
    if to_ports:
        lo, _, hi = to_ports.partition("-")
        ports = (int(lo), int(hi or lo))
    if to_source:
        addrs, pspec = to_source, ""
        if fam == 4 and ":" in to_source:
            addrs, pspec = to_source.split(":")
        elif fam == 6 and to_source.startswith("["):
            close = to_source.rindex("]")
            rest = to_source[close + 1:]
            addrs = to_source[:close + 1]
            if rest.startswith("/"):
                ln, _, pspec = rest[1:].partition(":")
                addrs += "/" + ln
            else:
                pspec = rest[1:]
        if pspec:
            lo, _, hi = pspec.partition("-")
            ports = (int(lo), int(hi or lo))
        addrs = addrs.replace("[", "").replace("]", "")
        if "/" in addrs:
            base, ln = addrs.split("/")
            kind, a, plen = PREFIX, addr(base), int(ln)
        else:
            lo, _, hi = addrs.partition("-")
            a = addr(lo)
            b = addr(hi) if hi else a
            kind = FIXED if a == b else RANGE
    return Mapping(fam, kind, a, b, plen, ports, seed, to_source or "--to-ports " + to_ports)


def _mix_words(h, words):
    """MurmurHash3's block mix over 32-bit words (hash.rs mix, inlined)."""
    for k in words:
        k = (k * 0xCC9E2D51) & M32
        k = ((k << 15) | (k >> 17)) & M32
        h ^= (k * 0x1B873593) & M32
        h = ((h << 13) | (h >> 19)) & M32
        h = (h * 5 + 0xE6546B64) & M32
    return h


def _fmix(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def _pick(h, span):
    """hash.rs pick(): floor(h * (span + 1) / 2^64)."""
    return h if span >= M64 else (h * (span + 1)) >> 64


_prefix = {}  # (seed, source) -> the mix over them: sources come back often


def _mixed(seed, s):
    key = (seed, bytes(s))
    h = _prefix.get(key)
    if h is None:
        h = _prefix[key] = _mix_words(seed, _WORDS[len(s)](key[1]))
    return h


_WORDS = {4: struct.Struct("!I").unpack, 16: struct.Struct("!4I").unpack, 32: struct.Struct("!8I").unpack}


def addr_hash(seed, s, d):
    """hash.rs addr_hash (addresses of 4 or 16 bytes, so no tail)."""
    h = _mix_words(_mixed(seed ^ 0x53534E41, s), _WORDS[len(d)](d))
    return (_fmix(_mix_words(h, (0x9E3779B9,))) << 32) | _fmix(h)


def flow_hash(seed, s, d, proto, sport, dport):
    return _fmix(_mix_words(_mixed(seed, s), _WORDS[len(d)](d) + (((proto << 16) ^ 0x00504F52),
                                                                   (sport << 16) | dport)))


def map_addr(m, s, d):
    """The new source address, or None if it does not change (Mapping::map_addr)."""
    k = m.kind
    if k == FIXED:
        new = m.a
    elif k == KEEP:
        return None
    elif k == RANGE:
        h = addr_hash(m.seed, s, d)
        if m.al == 4:
            lo, hi = int.from_bytes(m.a, "big"), int.from_bytes(m.b, "big")
            new = ((lo + _pick(h, hi - lo)) & M32).to_bytes(4, "big")
        else:
            lo, hi = int.from_bytes(m.a[8:], "big"), int.from_bytes(m.b[8:], "big")
            new = m.a[:8] + ((lo + _pick(h, hi - lo)) & M64).to_bytes(8, "big")
    else:
        bits = m.al * 8
        net = ((1 << m.plen) - 1) << (bits - m.plen)
        new = ((int.from_bytes(m.a, "big") & net) | (int.from_bytes(s, "big") & ~net)).to_bytes(m.al, "big")
    return None if new == s else new


def map_port(m, s, d, proto, sport, dport):
    """The new source port (echo identifier), or None (Mapping::map_port)."""
    if m.ports is None:
        return None
    lo, hi = m.ports
    new = lo if lo == hi else (lo + _pick(flow_hash(m.seed, s, d, proto, sport, dport) << 32, hi - lo)) & 0xFFFF
    return None if new == sport else new


# ---------------------------------------------------------------- the model: packet path

class Rw:
    """A rewrite as the model plans it: the new values of the fields SSNAT stores, and
    the checksums it must keep right: (field offset, start, end, pseudo-header
    (source offset, destination offset, address length) or None, zero rule)."""
    __slots__ = ("saddr", "port", "idaddr", "iport", "checks", "crc")

    def __init__(self):
        self.saddr = self.port = self.idaddr = self.iport = self.crc = None
        self.checks = []


Z_NONE, Z_MANGLE, Z_KEEP0 = 0, 1, 2  # any value; never zero; zero stays zero, else never zero
CUT_CHAIN = []  # packets model() found an extension header past the packet's end in
PORTED = (6, 17, 136, 33, 132)


def model(p, m):
    """What ssnat-core's plan() and apply() do to packet p (bytes from the network
    header on, as the rule sees them) under mapping m: a skip reason (int) or an Rw."""
    n = len(p)
    hl = n if n < 256 else 256  # MAX_PLAN_LEN: what plan() reads
    v4 = m.fam == 4
    if v4:
        if n < 20:
            return TRUNC
        b0 = p[0]
        ihl = (b0 & 15) * 4
        if b0 >> 4 != 4 or ihl < 20:
            return MALF
        tot = (p[2] << 8) | p[3]
        end = n if tot == 0 else tot
        if end < ihl or end > n:
            return MALF
        fr = (p[6] << 8) | p[7]
        first, fragmented = fr & 0x1FFF == 0, fr & 0x3FFF != 0
        l4, proto, so, do, al = ihl, p[9], 12, 16, 4
    else:
        if n < 40:
            return TRUNC
        if p[0] >> 4 != 6:
            return MALF
        plen = (p[4] << 8) | p[5]
        end = n if plen == 0 else 40 + plen
        if end > n:
            return MALF
        nh, off, first, fragmented, cnt = p[6], 40, True, False, 0
        while first:
            if nh == 0 and off != 40:
                return MALF
            # A header that does not fit in the payload is malformed, as one whose
            # length runs past it (off > end below); header-chain is for what lies past
            # the first MAX_PLAN_LEN bytes.
            if nh == 0 or nh == 43 or nh == 60:
                if off + 2 > end and off + 2 > hl:
                    CUT_CHAIN.append(p)
                    return MALF
                if off + 1 >= hl:
                    return CHAIN
                ln = (p[off + 1] + 1) * 8
            elif nh == 44:
                if off + 4 > end and off + 4 > hl:
                    CUT_CHAIN.append(p)
                    return MALF
                if off + 4 > hl:
                    return CHAIN
                fragmented = True
                first = ((p[off + 2] << 8) | p[off + 3]) & 0xFFF8 == 0
                ln = 8
            else:
                break
            nh = p[off]
            off += ln
            cnt += 1
            if off > end:
                return MALF
            if cnt > 8:
                return CHAIN
        l4, proto, so, do, al = off, nh, 8, 24, 16
    saddr, daddr = bytes(p[so:so + al]), bytes(p[do:do + al])
    rw = Rw()
    rw.saddr = map_addr(m, saddr, daddr)
    ps = (so, do, al)
    port_slot = moves = False
    if first:
        if proto in PORTED:
            need = 20 if proto == 6 else 8 if proto == 17 or proto == 136 else 12
            if l4 + need > end:
                return TRUNC
            if l4 + need > hl:
                return CHAIN
            zero = Z_NONE
            coff = 6
            if proto == 6:
                if p[l4 + 12] >> 4 < 5:
                    return MALF
                coff = 16
            elif proto == 17 or proto == 136:
                ln = (p[l4 + 4] << 8) | p[l4 + 5]
                room = end - l4
                if proto == 17:
                    bad = ln < 8 or (not fragmented and ln > room)
                else:  # UDP-Lite: checksum coverage, 0 for all
                    bad = (ln != 0 and ln < 8) or (not fragmented and ln > room)
                if bad:
                    return MALF
                zero = Z_KEEP0 if proto == 17 and v4 else Z_MANGLE
            port_slot = proto != 132 or not fragmented
            new = map_port(m, saddr, daddr, proto, (p[l4] << 8) | p[l4 + 1], (p[l4 + 2] << 8) | p[l4 + 3])
            if proto == 132:  # a fragment keeps its port: its CRC covers all of it
                if new is not None and not fragmented:
                    moves = True
                    rw.port, rw.crc = (l4, new), (l4, end)
            else:
                if new is not None:
                    moves = True
                    rw.port = (l4, new)
                rw.checks.append((l4 + coff, l4, end, ps, zero))
        elif (proto == 1 and v4) or (proto == 58 and not v4):
            if l4 + 8 > end:
                return TRUNC
            if l4 + 8 > hl:
                return CHAIN
            ty = p[l4]
            pseudo = None if v4 else ps
            if (ty == 0 or ty == 8) if v4 else (ty == 128 or ty == 129):
                port_slot = True
                new = map_port(m, saddr, daddr, proto, (p[l4 + 4] << 8) | p[l4 + 5], 0)
                if new is not None:
                    moves = True
                    rw.port = (l4 + 4, new)
                rw.checks.append((l4 + 2, l4, end, pseudo, Z_NONE))
            elif (ty in (3, 4, 5, 11, 12)) if v4 else (1 <= ty <= 4):
                moves = not _inner(p, m, rw, l4, end, hl, saddr, v4)
                rw.checks.append((l4 + 2, l4, end, pseudo, Z_NONE))
            elif not v4:
                rw.checks.append((l4 + 2, l4, end, pseudo, Z_NONE))
        elif (proto == 89 or proto == 103) and not v4:  # OSPFv3, PIM: pseudo-header
            need = 14 if proto == 89 else 4
            if l4 + need > end:
                return TRUNC
            if l4 + need > hl:
                return CHAIN
            rw.checks.append((l4 + need - 2, l4, end, ps, Z_NONE))
    if rw.saddr is None and not moves:
        return NOPORT if m.kind == KEEP and not port_slot else UNCH
    return rw


def _inner(p, m, rw, l4, end, hl, outer_saddr, v4):
    """plan_inner(): the packet quoted by an ICMP error. Returns whether nothing in it
    moves."""
    ip = l4 + 8
    avail = min(end, hl)
    if v4:
        if ip + 20 > avail:
            return True
        b0 = p[ip]
        ihl = (b0 & 15) * 4
        if b0 >> 4 != 4 or ihl < 20 or ip + ihl > avail:
            return True
        iproto, ifirst, so, do, al = p[ip + 9], ((p[ip + 6] << 8) | p[ip + 7]) & 0x1FFF == 0, 12, 16, 4
    else:
        if ip + 40 > avail or p[ip] >> 4 != 6:
            return True
        ihl, iproto, ifirst, so, do, al = 40, p[ip + 6], True, 8, 24, 16
    isaddr, idaddr = bytes(p[ip + so:ip + so + al]), bytes(p[ip + do:ip + do + al])
    if idaddr != outer_saddr:
        return True  # about a packet to someone else: the outer source only
    # The quoted packet went from the peer to us: seen from our side, the flow is
    # (us, our port) -> (peer, its port).
    new = map_addr(m, idaddr, isaddr)
    if new is not None:
        rw.idaddr = (ip + do, new)
        if v4:
            rw.checks.append((ip + 10, ip, ip + ihl, None, Z_NONE))
    il4 = ip + ihl
    moved = False
    if ifirst and iproto in PORTED:
        if il4 + 4 <= avail:
            sport, dport = (p[il4] << 8) | p[il4 + 1], (p[il4 + 2] << 8) | p[il4 + 3]
            np_ = map_port(m, idaddr, isaddr, iproto, dport, sport)
            if np_ is not None:
                rw.iport = (il4 + 2, np_)
                moved = True
        if iproto != 132:
            coff = 16 if iproto == 6 else 6
            if il4 + coff + 2 <= avail and (new is not None or moved):
                zero = Z_NONE
                if iproto == 17 or iproto == 136:
                    zero = Z_KEEP0 if v4 else Z_MANGLE
                rw.checks.append((il4 + coff, il4, end, (ip + so, ip + do, al), zero))
    return new is None and not moved


def apply_model(e, rw, r):
    """Writes into e (a copy of the packet as the rule saw it) the fields rw sets, and
    every checksum rw touches as the received r has it (verified on its own)."""
    if rw.saddr is not None:
        off = 12 if len(rw.saddr) == 4 else 8
        e[off:off + len(rw.saddr)] = rw.saddr
    if rw.port is not None:
        e[rw.port[0]:rw.port[0] + 2] = rw.port[1].to_bytes(2, "big")
    if rw.idaddr is not None:
        off, a = rw.idaddr
        e[off:off + len(a)] = a
    if rw.iport is not None:
        e[rw.iport[0]:rw.iport[0] + 2] = rw.iport[1].to_bytes(2, "big")
    for c in rw.checks:
        e[c[0]:c[0] + 2] = r[c[0]:c[0] + 2]
    if rw.crc is not None:
        e[rw.crc[0] + 8:rw.crc[0] + 12] = r[rw.crc[0] + 8:rw.crc[0] + 12]
    return e


def osum(b):
    """The one's-complement sum of b as 16-bit words, modulo 0xffff (so that 0 and
    0xffff, the two zeros, are alike): 2^16 = 1 modulo 0xffff."""
    if len(b) & 1:
        b = bytes(b) + b"\0"
    return int.from_bytes(b, "big") % 0xFFFF


def check_sums(q, r, rw):
    """Problems with the checksums rw touched: each must cover the same sum in r as in
    q (RFC 1624's invariant), whatever its value was; SCTP's CRC must be right."""
    errs = []
    for off, start, end, ps, zero in rw.checks:
        old, new = (q[off] << 8) | q[off + 1], (r[off] << 8) | r[off + 1]
        a, b = osum(q[start:end]), osum(r[start:end])
        if ps is not None:
            so, do, al = ps
            a += osum(q[so:so + al]) + osum(q[do:do + al])
            b += osum(r[so:so + al]) + osum(r[do:do + al])
        if zero == Z_KEEP0 and old == 0:
            if new != 0:
                errs.append("checksum at %d: zero (none) became 0x%04x" % (off, new))
            continue
        if zero != Z_NONE and new == 0:
            errs.append("checksum at %d: zero written (a computed zero is 0xffff)" % off)
        if a % 0xFFFF != b % 0xFFFF:
            errs.append("checksum at %d: 0x%04x -> 0x%04x, the sum it covers moved from 0x%04x to 0x%04x" % (
                off, old, new, a % 0xFFFF, b % 0xFFFF))
    if rw.crc is not None:
        st, en = rw.crc
        want = sctp_crc(r[st:en])
        if bytes(r[st + 8:st + 12]) != want:
            errs.append("SCTP CRC32c %s, should be %s" % (bytes(r[st + 8:st + 12]).hex(), want.hex()))
    return errs


# CRC32c, fast enough for big packets: a run of zero bytes is a linear map of the CRC
# state (zlib's crc32_combine idea); the maps of 2^i zeros are made once.
_zpow = []


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C = _crc32c_table()  # as ssnat_pkt's (the self-test compares the two)


def _crc_run(c, data, t=CRC32C):
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def _lin(cols, v):
    r, i = 0, 0
    while v:
        if v & 1:
            r ^= cols[i]
        v >>= 1
        i += 1
    return r


def _zeros(c, k):
    if not _zpow:
        _zpow.append([_crc_run(1 << i, b"\0") for i in range(32)])
    while len(_zpow) < k.bit_length():
        m = _zpow[-1]
        _zpow.append([_lin(m, x) for x in m])
    i = 0
    while k:
        if k & 1:
            c = _lin(_zpow[i], c)
        k >>= 1
        i += 1
    return c


def sctp_crc(seg):
    """The CRC32c field (4 bytes) of SCTP packet seg, as ssnat_pkt.sctp_crc."""
    if len(seg) < 12:
        return b""
    data = bytes(seg[:8]) + b"\0\0\0\0" + bytes(seg[12:])
    head = data.rstrip(b"\0")
    if len(data) - len(head) < 256:
        head = data
    c = _crc_run(0xFFFFFFFF, head)
    if len(data) > len(head):
        c = _zeros(c, len(data) - len(head))
    return struct.pack("<I", c ^ 0xFFFFFFFF)


# ---------------------------------------------------------------- what the stack does

def rule_view(p, fam, path):
    """The packet as the rule sees it, or None where the stack drops it first.
    Forwarding drops what ip_rcv refuses, trims to the IP length and zeroes IPv4
    option bytes after an end of options (__ip_options_compile); a raw IPv4 socket
    refuses an IHL below 5 or past the end, and sets the total length and header
    checksum; a raw IPv6 socket sends what it is given."""
    n = len(p)
    if fam == 4:
        if n < 20:
            return None
        ihl = (p[0] & 15) * 4
        if path == "local":
            if ihl < 20 or ihl > n:
                return None
            q = bytearray(p)
            q[2:4] = n.to_bytes(2, "big")
            q[10:12] = b"\0\0"
            q[10:12] = (0xFFFF - osum(q[:ihl])).to_bytes(2, "big")
            return q
        tot = (p[2] << 8) | p[3]
        if p[0] >> 4 != 4 or ihl < 20 or tot > n or tot < ihl or osum(p[:ihl]) != 0 or p[8] <= 1:
            return None
        q = bytearray(p[:tot])
        o = 20
        while o < ihl:
            t = q[o]
            if t == 0:
                q[o:ihl] = bytes(ihl - o)
                break
            if t == 1:
                o += 1
                continue
            if o + 1 >= ihl or q[o + 1] < 2 or o + q[o + 1] > ihl:
                return None
            o += q[o + 1]
        return q
    if n < 40:
        return None
    if path == "local":
        return bytearray(p)
    plen = (p[4] << 8) | p[5]
    if p[0] >> 4 != 6 or p[7] <= 1:
        return None
    if plen or p[6] != 0:
        if plen + 40 > n:
            return None
        return bytearray(p[:plen + 40])
    return bytearray(p)


EXT6 = (0, 43, 44, 51, 60)  # ipv6_ext_hdr() but NONE, which ends the walk


def find_hdr(p, nft):
    """ipv6_find_hdr(skb, &off, -1, &fragoff, flags): (protocol or -1, fragment offset).
    nft passes IP6_FH_F_AUTH (AH is the protocol then), ip6tables no flags."""
    n = len(p)
    nh, start, cnt = p[6], 40, 0
    while nh in EXT6:
        if cnt >= 12:  # IP6_MAX_EXT_HDRS_CNT
            return -1, 0
        cnt += 1
        if start + (4 if nh == 43 or nh == 44 else 2) > n:
            return -1, 0
        if nh == 44:
            fo = ((p[start + 2] << 8) | p[start + 3]) & 0xFFF8
            if fo:
                return (p[start], fo) if p[start] not in EXT6 else (-1, 0)
            hlen = 8
        elif nh == 51:
            if nft:
                break
            hlen = (p[start + 1] + 2) << 2
        else:
            hlen = (p[start + 1] + 1) << 3
        if n - start < hlen:
            return -1, 0
        nh = p[start]
        start += hlen
    return nh, 0


def rule_proto(q, fam, nft):
    """The protocol a -p match sees in q (as the rule sees it): None when no -p rule
    can match, "drop" where ip6tables drops the packet (hotdrop). The ip and ip6
    families of nf_tables do not validate the header (nft_set_pktinfo_ipv4/6)."""
    if fam == 4:
        return q[9]
    proto, fo = find_hdr(q, nft)
    if proto < 0:
        return None if nft or fo else "drop"
    return proto


# ---------------------------------------------------------------- the rules

FAMS = (4, 6)
PATHS = ("fwd", "local")
# Mapping forms: (name, (--to-source, --to-ports) per family, one rule per protocol).
FORMS = (
    ("fixed", {4: ("198.51.100.7:4000", None), 6: ("[2001:db8:99::7]:4000", None)}, True),
    ("range", {4: ("198.51.100.16-198.51.100.31:20000-20099", None),
               6: ("[2001:db8:99::10]-[2001:db8:99::1f]:20000-20099", None)}, True),
    ("prefix", {4: ("100.64.0.0/10", None), 6: ("2001:db8:8000::/33", None)}, False),
    ("ports", {4: (None, "30000-30999"), 6: (None, "30000-30999")}, True),
    ("profile", None, False),
)
NFORMS = len(FORMS)


def dst_subnet(fam, path, form):
    if fam == 4:
        return "10.%d.0.0/16" % (128 + 8 * PATHS.index(path) + form)
    return "2001:db8:f0:%x::/64" % (16 * PATHS.index(path) + form)


def dst_addr(fam, path, form, idx):
    """The destination of a packet: unique, in its form's subnet."""
    if fam == 4:
        return bytes((10, 128 + 8 * PATHS.index(path) + form, (idx >> 8) & 255, idx & 255))
    return b"\x20\x01\x0d\xb8\x00\xf0" + (16 * PATHS.index(path) + form).to_bytes(2, "big") + idx.to_bytes(8, "big")


def marker_addr(fam, path):
    return addr(("10.159.0.%d" if fam == 4 else "2001:db8:ff::%d") % (1 + PATHS.index(path)))


class Rule:
    __slots__ = ("id", "fam", "path", "form", "proto", "map", "profile")

    def __init__(self, id_, fam, path, form, proto, mapping, profile):
        self.id, self.fam, self.path, self.form = id_, fam, path, form
        self.proto, self.map, self.profile = proto, mapping, profile


def make_rules(profiles):
    """The SSNAT rules, each after a plain counting rule of the same match: a dict
    (family, path, form) -> [Rule] (one per protocol, or one without -p), and the
    iptables-restore text per family. Forwarded packets meet them in mangle FORWARD,
    locally generated ones in raw OUTPUT; each rule's --random-seed is its number, so
    that /proc/net/xt_SSNAT tells them apart."""
    rules, text, rid = {}, {4: [], 6: []}, 0
    for fam in FAMS:
        for path in PATHS:
            table, hook = ("mangle", "FORWARD") if path == "fwd" else ("raw", "OUTPUT")
            head, body = ["*" + table], []
            for fi, (name, specs, per_proto) in enumerate(FORMS):
                chain = "fz%s%d" % (path[0], fi)
                head.append(":%s - [0:0]" % chain)
                body.append("-A %s -d %s -j %s" % (hook, dst_subnet(fam, path, fi), chain))
                protos = PORTED + (1 if fam == 4 else 58,) if per_proto else (None,)
                lst = rules[(fam, path, fi)] = []
                for proto in protos:
                    rid += 1
                    match = ("-p %d " % proto if proto else "") + "-m comment --comment fz%d" % rid
                    if specs is None:
                        pname, spec, seed = profiles[(fam, path)]
                        mp, target = parse_mapping(fam, spec, None, seed), "--profile " + pname
                    else:
                        ts, tp = specs[fam]
                        pname, mp = None, parse_mapping(fam, ts, tp, rid)
                        target = ("--to-source " + ts if ts else "--to-ports " + tp) + " --random-seed %d" % rid
                    body.append("-A %s %s" % (chain, match))
                    body.append("-A %s %s -j SSNAT %s" % (chain, match, target))
                    lst.append(Rule(rid, fam, path, fi, proto, mp, pname))
                _by_proto[(fam, path, fi)] = {r.proto: r for r in lst}
            text[fam] += head + body + ["COMMIT"]
    return rules, {f: "\n".join(t) + "\n" for f, t in text.items()}


def which_rule(rules, q, fam, path, form, nft):
    """The rule packet q (as seen) reaches: a Rule, None, or "drop" (ip6tables)."""
    lst = rules[(fam, path, form)]
    if lst[0].proto is None:
        return lst[0]
    pr = rule_proto(q, fam, nft)
    if pr is None or pr == "drop":
        return pr
    return _by_proto[(fam, path, form)].get(pr)


_by_proto = {}  # (family, path, form) -> {protocol: Rule}


# ---------------------------------------------------------------- seeds

class Rng(random.Random):
    """random.Random with cheaper randint, randrange (one argument) and choice: the
    guest runs this under TCG, where every Python call counts."""

    def randint(self, a, b):
        return a + int(self.random() * (b - a + 1))

    def randrange(self, n):
        return int(self.random() * n)

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


PAT = bytes(range(256)) * 2
KINDS = {4: ("tcp", "udp", "udplite", "dccp", "sctp", "icmp", "error", "frag", "opts", "other", "paged"),
         6: ("tcp", "udp", "udplite", "dccp", "sctp", "icmp", "error", "frag", "ext", "other", "paged")}
KIND_WEIGHT = {"tcp": 10, "udp": 12, "udplite": 8, "dccp": 7, "sctp": 7, "icmp": 8, "error": 16, "frag": 10,
               "opts": 10, "ext": 14, "other": 4, "paged": 8}
KIND_PROTO = {"tcp": 6, "udp": 17, "udplite": 136, "dccp": 33, "sctp": 132}
SRC = {4: addr("10.0.1.2"), 6: addr("2001:db8:1::2")}


def l4_seg(rng, fam, proto, src, dst, sport, dport, dlen, zeros=False):
    """A valid L4 segment (bytearray), checksum included."""
    data = bytes(dlen) if zeros else PAT[(sport ^ dport) & 255:][:dlen]
    if proto == 6:
        doff = 5 + (rng.randint(1, 3) if rng.random() < 0.2 else 0)
        seg = bytearray(struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, doff << 4, 0x18, 8192, 0, 0)
                        + b"\x01\x01\x01\x00" * (doff - 5) + data)
        coff = 16
    elif proto == 17 or proto == 136:
        ln = 8 + dlen
        if proto == 136:
            ln = rng.choice((0, 8, ln, 8 + dlen // 2))  # checksum coverage
        seg = bytearray(struct.pack("!HHHH", sport, dport, ln, 0) + data)
        coff = 6
    elif proto == 33:  # generic header with X=1, type Data
        seg = bytearray(struct.pack("!HHBBHBBHI", sport, dport, 4, 0, 0, 5, 0, 0, rng.getrandbits(32)) + data)
        coff = 6
    elif proto == 132:
        dl = dlen & ~3
        seg = bytearray(struct.pack("!HHIIBBHIHHI", sport, dport, rng.getrandbits(32), 0, 0, 3, 16 + dl,
                                    rng.getrandbits(32), 1, 0, 0) + data[:dl])
        seg[8:12] = sctp_crc(seg)
        return seg
    elif proto == 1 or proto == 58:
        ty = rng.choice((8, 0) if proto == 1 else (128, 129))
        if rng.random() < 0.12:  # not echo: no identifier
            ty = rng.choice((13, 14, 17, 9, 10) if proto == 1 else (130, 133, 137, 139, 200))
        seg = bytearray(struct.pack("!BBHHH", ty, 0, 0, sport, rng.getrandbits(16)) + data)
        coff = 2
    elif proto == 89:
        seg = bytearray(struct.pack("!BBH4s4sHH", 3, 1, 16 + dlen, b"\1\2\3\4", b"\0\0\0\0", 0, 0) + data)
        coff = 12
    elif proto == 103:
        seg = bytearray(b"\x20\0\0\0" + data)
        coff = 2
    else:
        return bytearray(data)
    cov = seg
    if proto == 136 and seg[4:6] != b"\0\0":
        cov = seg[:(seg[4] << 8) | seg[5]]
    s = osum(cov) if proto == 1 else osum(src) + osum(dst) + proto + len(seg) + osum(cov)
    seg[coff:coff + 2] = (0xFFFF - s % 0xFFFF).to_bytes(2, "big")
    return seg


def l4_bounds(proto, seg):
    """Header boundaries in an L4 segment, from its start."""
    b = {6: (4, 8, 12, 13, 16, 18, 20, (seg[12] >> 4) * 4 if len(seg) > 12 else 20), 17: (2, 4, 6, 8),
         136: (2, 4, 6, 8), 33: (4, 6, 8, 12, 16), 132: (4, 8, 12, 16, 28), 1: (1, 2, 4, 6, 8), 58: (1, 2, 4, 6, 8),
         89: (12, 14, 16)}.get(proto, (2, 4))
    return [x for x in b if x < len(seg)] + [len(seg)]


def ip4(proto, src, dst, payload_len, ident, frag=0, opts=b""):
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45 + len(opts) // 4, 0, 20 + len(opts) + payload_len, ident, frag,
                              64, proto, 0, src, dst) + opts)
    h[10:12] = (0xFFFF - osum(h)).to_bytes(2, "big")
    return h


def ip6(nh, src, dst, payload_len):
    return bytearray(struct.pack("!IHBB16s16s", 0x60012345, payload_len, nh, 64, src, dst))


def opts4(rng, room):
    """IPv4 options that forwarding leaves as they are (ip_options_compile): NOPs,
    router alert, security and unknown types, maybe an end of options."""
    out = bytearray()
    while len(out) < room:
        c = rng.randrange(8)
        left = room - len(out)
        if c < 3 or left < 4:
            out.append(1)
        elif c == 3:
            out += b"\x94\x04\0\0"
        elif c == 4:
            out.append(0)
            break
        else:
            ln = min(left, 2 + 2 * rng.randrange(8))
            out += bytes((rng.choice((0x1E, 0x5E, 0x9E, 0x82, 0x88)), ln)) + PAT[ln:2 * ln - 2]
    return bytes(out + bytes(room - len(out)))


def ext_chain(rng, fam, kind, last):
    """(IPv6 extension headers before protocol last, first next header, boundaries):
    hop-by-hop (first, options the stack accepts), routing, destination options,
    fragment (first, whole); for "ext" sometimes a long chain (more than 8 headers, or
    one past MAX_PLAN_LEN), or hop-by-hop not first."""
    kinds = []
    if kind == "ext" or kind == "frag" or rng.random() < 0.05:
        if rng.getrandbits(1):
            kinds.append(0)
        many = kind == "ext" and rng.random() < 0.2
        for _ in range(rng.randint(7, 13) if many else rng.randint(0, 3 if kind == "ext" else 1)):
            kinds.append(rng.choice((43, 60, 60, 44)) if kind != "frag" else 60)
        if kind == "ext" and rng.random() < 0.08:
            kinds.append(-60)  # a 328-byte destination options header
        if kind == "ext" and rng.random() < 0.05:
            kinds = kinds + [0] if kinds else [60, 0]  # hop-by-hop not first
    out, bounds = bytearray(), []
    nxt = [abs(k) for k in kinds[1:]] + [last]
    for k, nh in zip(kinds, nxt):
        if k == 0:
            h = bytearray((nh, 0, 1, 4, 0, 0, 0, 0))  # PadN
            if rng.getrandbits(1):
                h[1] = 1
                h += b"\x05\x02\0\0\x1e\x02\xab\xcd"  # router alert; an unknown option to skip
        elif k == 44:
            h = bytearray(struct.pack("!BBHI", nh, 0, 0, rng.getrandbits(32)))
        elif k == -60:
            h = bytearray((nh, 40)) + bytes(326)
        else:
            x = rng.choice((0, 0, 1, 2))
            h = bytearray((nh, x)) + bytes(6 + 8 * x)
            h[2:4] = (rng.choice((0, 2, 4, 253)), rng.getrandbits(1)) if k == 43 else (1, 4 + 8 * x)
        out += h
        bounds.append(len(out))
    return out, abs(kinds[0]) if kinds else last, bounds


def pick_src(rng, fam, mapping):
    """The sender's address, another of its subnet, or one the mapping gives already
    (so that it is unchanged)."""
    c = rng.random()
    if c < 0.4:
        return SRC[fam]
    if c < 0.8 or mapping.kind == KEEP:
        if fam == 4:
            return bytes((10, 0, 1, rng.randint(3, 250)))
        return SRC[6][:8] + rng.getrandbits(64).to_bytes(8, "big")
    if mapping.kind == FIXED:
        return mapping.a
    lo = int.from_bytes(mapping.a, "big")
    if mapping.kind == RANGE:
        return (lo + rng.randint(0, int.from_bytes(mapping.b, "big") - lo)).to_bytes(mapping.al, "big")
    return (lo | rng.getrandbits(mapping.al * 8 - mapping.plen)).to_bytes(mapping.al, "big")


def seed_packets(rng, fam, kind, src, dst, mapping):
    """Valid packets of one seed (several for a fragmented datagram): a list of
    (bytearray, info), info = (header boundaries, L4 offset, protocol, quote offset,
    where the destination address is, checksums to move with it (see readdress))."""
    v4 = fam == 4
    icmp = 1 if v4 else 58
    paged = kind == "paged"
    mp = mapping.ports
    sport = rng.randint(*mp) if mp and rng.random() < 0.2 else rng.randint(1, 65535)
    # (port 6000 often: the profiles have entries for it, 30-fuzz-packets.sh)
    dport = 6000 if rng.random() < 0.3 else rng.randint(1, 65535)
    dlen = rng.randint(4000, 8000) if paged else rng.choice((0, 1, 4, 8, 12, 16, 24, 33, 48))
    proto = KIND_PROTO.get(kind)
    if kind == "icmp":
        proto = icmp
    elif kind == "other":
        proto = rng.choice((47, 0, 255, 4, 50) if v4 else (89, 103, 47, 59, 255, 51))
    elif proto is None:
        proto = rng.choice(PORTED + (icmp,))
    if paged and rng.random() < 0.25:
        kind = "error"
    opts = opts4(rng, 4 * rng.randint(1, 10)) if v4 and (kind == "opts" or rng.random() < 0.04) else b""
    if kind == "error":
        return [error_packet(rng, fam, src, dst, proto, sport, dport, dlen, opts, paged)]
    if kind == "frag":
        return frag_packets(rng, fam, proto, src, dst, sport, dport, dlen, opts)
    chain, nh0, cb = ext_chain(rng, fam, kind, proto) if not v4 else (b"", proto, [])
    seg = l4_seg(rng, fam, proto, src, dst, sport, dport, dlen, paged)
    return [wrap(rng, fam, proto, src, dst, opts, chain, nh0, cb, seg, l4_bounds(proto, seg))]


# Offsets of the L4 checksums over a pseudo-header, as l4_seg makes them.
PSEUDO_COFF = {6: 16, 17: 6, 136: 6, 33: 6, 58: 2, 89: 12, 103: 2}


def wrap(rng, fam, proto, src, dst, opts, chain, nh0, cb, seg, lb, ident=None, frag=0, seg_off=0):
    """seg (which starts seg_off bytes into its datagram) in an IP header: IPv4 with
    options, IPv6 with an extension chain."""
    if fam == 4:
        h = ip4(proto, src, dst, len(seg), rng.getrandbits(16) | 1 if ident is None else ident, frag, opts)
        bounds = [1, 2, 4, 10, 12, 16, 20]
        fixes = [(10, 1)]
    else:
        h = ip6(nh0, src, dst, len(chain) + len(seg)) + chain
        bounds = [1, 4, 6, 8, 24, 40] + [40 + x for x in cb]
        fixes = []
    l4 = len(h)
    coff = PSEUDO_COFF.get(proto)
    if coff is not None and seg_off <= coff < seg_off + len(seg) - 1:
        fixes.append((l4 + coff - seg_off, 1))
    return h + seg, (bounds + [l4 + x for x in lb], l4, proto, None, (16 if fam == 4 else 24,), fixes)


def readdress(pkt, info, dst, delta):
    """A copy of pkt to destination dst instead, its checksums moved by delta (the
    change of the address's one's-complement sum) times how often they cover it."""
    p = bytearray(pkt)
    al = len(dst)
    for o in info[4]:
        p[o:o + al] = dst
    for off, coef in info[5]:
        v = (0xFFFF - ((p[off] << 8) | p[off + 1]) + coef * delta) % 0xFFFF
        p[off:off + 2] = (0xFFFF - v).to_bytes(2, "big")
    return p


def frag_packets(rng, fam, proto, src, dst, sport, dport, dlen, opts):
    """The fragments of one datagram, whose L4 checksum covers all of it; sometimes a
    later fragment alone."""
    seg = l4_seg(rng, fam, proto, src, dst, sport, dport, max(dlen, 16) + rng.randint(8, 40))
    size = 8 * rng.randint(1, 4)
    ident = rng.getrandbits(16 if fam == 4 else 32) | 1
    offs = list(range(0, len(seg), size))
    if rng.random() < 0.3:
        offs = [rng.choice(offs[1:] or offs)]
    chain, nh0, cb = ext_chain(rng, fam, "frag", 44) if fam == 6 else (b"", 44, [])
    out = []
    for off in offs:
        piece = seg[off:off + size]
        more = off + size < len(seg)
        lb = l4_bounds(proto, piece) if off == 0 else [len(piece)]
        if fam == 4:
            out.append(wrap(rng, 4, proto, src, dst, opts, b"", proto, [], piece, lb, ident & 0xFFFF,
                            (0x2000 if more else 0) | off // 8, seg_off=off))
        else:
            fh = struct.pack("!BBHI", proto, 0, off | int(more), ident)
            out.append(wrap(rng, 6, proto, src, dst, b"", chain + fh, nh0, cb + [len(chain) + 8], piece, lb,
                            seg_off=off))
    return out


def error_packet(rng, fam, src, dst, proto, sport, dport, dlen, opts, paged):
    """An ICMP error that src (the host being translated) sends to dst about a packet
    dst sent it (to dst's port from our sport), quoting it whole or cut short;
    sometimes about a packet to someone else, sometimes with IPv4 options or IPv6
    extension headers in the quote."""
    v4 = fam == 4
    about = src if rng.random() < 0.85 else (bytes((10, 0, 1, 77)) if v4 else SRC[6][:15] + b"\x77")
    iseg = l4_seg(rng, fam, proto, dst, about, dport, sport, dlen, paged)
    if v4:
        iopts = opts4(rng, 4 * rng.randint(1, 4)) if rng.random() < 0.15 else b""
        ih = ip4(proto, dst, about, len(iseg), rng.getrandbits(16), rng.choice((0, 0, 0, 0x2000, 0x4000, 3)), iopts)
    else:
        ichain, inh, _ = ext_chain(rng, fam, "ext", proto) if rng.random() < 0.1 else (b"", proto, [])
        ih = ip6(inh, dst, about, len(ichain) + len(iseg)) + ichain
    inner = ih + iseg
    if not paged and rng.random() < 0.5:
        inner = inner[:len(ih) + rng.choice((0, 2, 4, 6, 8, 12, 16, 20, 28))]
    ty = rng.choice((3, 4, 5, 11, 12) if v4 else (1, 2, 3, 4))
    msg = bytearray(struct.pack("!BBHI", ty, 3 if ty == 3 else 0, 0, 0)) + inner
    s = osum(msg) if v4 else osum(src) + osum(dst) + 58 + len(msg) + osum(msg)
    msg[2:4] = (0xFFFF - s % 0xFFFF).to_bytes(2, "big")
    lb = [1, 2, 4, 8, 8 + 9, 8 + len(ih)] + [8 + len(ih) + x for x in (2, 4, 6, 8, 16, 18)]
    pkt, info = wrap(rng, fam, 1 if v4 else 58, src, dst, opts, b"", 1 if v4 else 58, [], msg,
                     [x for x in lb if x < len(msg)] + [len(msg)])
    # The destination is also the quoted source: the quoted checksums move with it,
    # and the ICMP checksum with what it covers of them.
    l4 = info[1]
    ip = l4 + 8
    fixes = [(10, 1)] if v4 else []
    coff = PSEUDO_COFF.get(proto)
    qfix = int(coff is not None and 8 + len(ih) + coff + 2 <= len(msg))
    if v4:
        fixes.append((ip + 10, 1))
    if qfix:
        fixes.append((ip + len(ih) + coff, 1))
    fixes.append((l4 + 2, -qfix if v4 else 2 - qfix))
    return pkt, (info[0], l4, info[2], ip, (16 if v4 else 24, ip + (12 if v4 else 8)), fixes)


# ---------------------------------------------------------------- mutations

CHECK_OFF = {6: 16, 17: 6, 136: 6, 33: 6, 1: 2, 58: 2, 89: 12, 103: 2}


def ip_len_fix(pkt, fam):
    if fam == 4 and len(pkt) >= 4:
        pkt[2:4] = len(pkt).to_bytes(2, "big")
    elif fam == 6 and len(pkt) >= 6:
        pkt[4:6] = max(0, len(pkt) - 40).to_bytes(2, "big")


def m_none(rng, pkt, info, fam, path, paged):
    return pkt


def m_trunc(rng, pkt, info, fam, path, paged):
    """Cut at a header boundary or a byte either side; mostly with the IP length
    saying so (else the length lies)."""
    b = rng.choice(info[0]) + int(rng.random() * 3) - 1
    pkt = pkt[:max(1, min(b, len(pkt) - 1))]
    if rng.random() < 0.75:
        ip_len_fix(pkt, fam)
    return pkt


def m_iplen(rng, pkt, info, fam, path, paged):
    """IPv4 total length or IPv6 payload length that lies."""
    n, l4 = len(pkt), info[1]
    if fam == 4 and n >= 4:
        ihl = (pkt[0] & 15) * 4
        v = rng.choice((0, n - 1, n + 1, ihl - 1, ihl, rng.getrandbits(16), n - 8, l4 + 4))
        pkt[2:4] = (v & 0xFFFF).to_bytes(2, "big")
    elif fam == 6 and n >= 6:
        v = rng.choice((0, n - 41, n - 39, l4 - 40, l4 - 41, rng.getrandbits(16), n - 48))
        pkt[4:6] = (v & 0xFFFF).to_bytes(2, "big")
    return pkt


def m_l4len(rng, pkt, info, fam, path, paged):
    """UDP length, UDP-Lite coverage, TCP data offset, ICMP type, DCCP data offset."""
    l4, proto = info[1], info[2]
    n = len(pkt)
    if n < l4 + 8:
        return m_flip(rng, pkt, info, fam, path, paged)
    if proto == 17 or proto == 136:
        room = n - l4
        v = rng.choice((0, 1, 4, 7, 8, room - 1, room, room + 1, 0xFFFF, rng.getrandbits(16)))
        pkt[l4 + 4:l4 + 6] = (v & 0xFFFF).to_bytes(2, "big")
    elif proto == 6 and n > l4 + 12:
        pkt[l4 + 12] = (rng.getrandbits(4) << 4) | (pkt[l4 + 12] & 15)
    elif proto == 1 or proto == 58:
        pkt[l4] = rng.choice((0, 3, 4, 5, 8, 11, 12, 13, 1, 2, 128, 129, 135, 200))
    elif proto == 33:
        pkt[l4 + 4] = rng.getrandbits(8)
    else:
        pkt[l4 + int(rng.random() * 8)] ^= 1 << int(rng.random() * 8)
    return pkt


def m_csum(rng, pkt, info, fam, path, paged):
    """A checksum (L4, SCTP's CRC, the quoted packet's) set to 0 or 0xffff."""
    l4, proto, quote = info[1], info[2], info[3]
    n = len(pkt)
    v = b"\0\0" if rng.random() < 0.5 else b"\xff\xff"
    off = None
    if quote is not None and rng.random() < 0.5 and n > quote + 20:
        ihl = (pkt[quote] & 15) * 4 if fam == 4 else 40
        ip_ = pkt[quote + 9] if fam == 4 else pkt[quote + 6]
        off = quote + 10 if fam == 4 and rng.random() < 0.5 else quote + ihl + CHECK_OFF.get(ip_, 2)
    elif proto == 132:
        off, v = l4 + 8, b"\0\0"
    elif proto in CHECK_OFF:
        off = l4 + CHECK_OFF[proto]
    if off is not None and off + 2 <= n:
        pkt[off:off + 2] = v
    elif fam == 4 and n >= 12:
        pkt[10:12] = v
    return pkt


def m_ihl(rng, pkt, info, fam, path, paged):
    """An IPv4 IHL below 5 or pointing into the payload."""
    if fam == 6 or not pkt:
        return m_flip(rng, pkt, info, fam, path, paged)
    pkt[0] = 0x40 | rng.choice((0, 1, 2, 3, 4, 6, 7, 8, 15))
    if path == "fwd":
        # The payload's bytes now read as options: none may be one that forwarding
        # writes (record route, timestamp: ip_forward_options, after the rule) or
        # routes by (source routes), which the model does not play. E.g. a DCCP
        # header from port 0x44xx to 6000 (0x1770) is a valid timestamp option.
        o, ihl = 20, min((pkt[0] & 15) * 4, len(pkt))
        while o < ihl:
            t = pkt[o]
            if t in (7, 0x44, 0x83, 0x89):
                pkt[o] = 1  # a NOP instead
            if pkt[o] == 0:
                break
            if pkt[o] == 1 or o + 1 >= ihl or pkt[o + 1] < 2:
                o += 1
                continue
            o += pkt[o + 1]
    return pkt


def m_flip(rng, pkt, info, fam, path, paged):
    """One to three random bytes flipped; not the addresses (a packet must reach its
    form's rule, and be found by its destination) and, when forwarded, not IPv4
    options (record route and the like would be the router's to write)."""
    n = len(pkt)
    if not n:
        return pkt
    lo, hi = (12, 20) if fam == 4 else (8, 40)
    if fam == 4 and path == "fwd":
        hi = max(20, (pkt[0] & 15) * 4)
    top = min(n, 200) if paged else n
    for _ in range(1 + int(rng.random() * 3)):
        o = int(rng.random() * top)
        if lo <= o < hi:
            if top <= hi:
                continue
            o = hi + int(rng.random() * (top - hi))
        pkt[o] ^= 1 + int(rng.random() * 255)
    return pkt


MUTATIONS = ((m_none, 8, "none"), (m_trunc, 22, "trunc"), (m_iplen, 8, "iplen"), (m_l4len, 12, "l4len"),
             (m_csum, 10, "csum"), (m_ihl, 6, "ihl"), (m_flip, 34, "flip"))
_MCUM = list(itertools.accumulate(w for _, w, _ in MUTATIONS))
_MCUM_PAGED = list(itertools.accumulate(0 if f is m_trunc else w for f, w, _ in MUTATIONS))


def mutate(rng, pkt, info, fam, path, paged):
    """One mutation of pkt (sometimes two; big ones are not truncated): returns (pkt,
    the mutation's index, or two indices as i * 8 + j)."""
    cum = _MCUM_PAGED if paged else _MCUM
    i = bisect.bisect(cum, rng.random() * cum[-1])
    pkt = MUTATIONS[i][0](rng, pkt, info, fam, path, paged)
    if rng.random() < 0.12:
        j = bisect.bisect(cum, rng.random() * cum[-1])
        pkt = MUTATIONS[j][0](rng, pkt, info, fam, path, paged)
        i = i * 8 + j + 8
    if fam == 4 and path == "fwd" and len(pkt) >= 20 and rng.random() < 0.92:
        ihl = (pkt[0] & 15) * 4  # a valid header checksum, or ip_rcv drops it
        if 20 <= ihl <= len(pkt):
            pkt[10:12] = b"\0\0"
            pkt[10:12] = (0xFFFF - osum(pkt[:ihl])).to_bytes(2, "big")
    return pkt, i


def mutation_name(i):
    return MUTATIONS[i][2] if i < 8 else "%s+%s" % (MUTATIONS[i // 8 - 1][2], MUTATIONS[i % 8][2])


# ---------------------------------------------------------------- namespaces, sockets

SOL_PACKET, PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION, PACKET_VNET_HDR = 263, 5, 6, 10, 15
PACKET_IGNORE_OUTGOING, TPACKET_V2, SO_RCVBUFFORCE, ETH_P_ALL = 23, 1, 33, 3
FRAME, NFRAMES = 1 << 14, 1024  # capture ring: frames big enough for jumbo frames
_TP2 = struct.Struct("IIIHH")  # struct tpacket2_hdr: status, len, snaplen, mac, net


def setns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), "setns " + name)
    finally:
        os.close(fd)


class Net:
    """The capture in the receiver (an mmap'ed TPACKET_V2 ring: no system call per
    packet), AF_PACKET sockets in the sender (one with a virtio-net header, for paged
    skbs), raw sockets in the router, where the process then stays (rules,
    counters)."""

    def __init__(self, rtr_mac):
        setns("rcv")
        self.cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.cap.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        self.cap.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        ring = struct.pack("IIII", 16 * FRAME, NFRAMES // 16, FRAME, NFRAMES)  # struct tpacket_req
        self.cap.setsockopt(SOL_PACKET, PACKET_RX_RING, ring)
        self.cap.bind(("d0", 0))
        self.ring = mmap.mmap(self.cap.fileno(), FRAME * NFRAMES)
        self.pos = 0
        setns("snd")
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind(("s0", 0))
        self.txv = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.txv.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        self.txv.bind(("s0", 0))
        mac = bytes.fromhex(rtr_mac.replace(":", "")) + self.tx.getsockname()[4]
        self.eth = {4: mac + b"\x08\x00", 6: mac + b"\x86\xdd"}
        setns("rtr")
        self.raw = {4: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW),
                    6: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)}
        self.got = []

    def send(self, fam, path, pkt, linear, dst):
        """Sends pkt to dst (linear: the bytes of the frame in the skb's linear part,
        0 for all); False if the socket refused it."""
        try:
            if path == "local":
                self.raw[fam].sendto(pkt, (socket.inet_ntop(socket.AF_INET if fam == 4 else socket.AF_INET6, dst), 0))
            elif linear:
                self.txv.send(struct.pack("<BBHHHH", 0, 0, linear, 0, 0, 0) + self.eth[fam] + pkt)
            else:
                self.tx.send(self.eth[fam] + pkt)
        except OSError:
            return False
        return True

    def drain(self):
        """Moves what the ring holds into self.got."""
        ring, got, pos, unpack = self.ring, self.got, self.pos, _TP2.unpack_from
        while True:
            off = pos * FRAME
            status, _, snap, mac, _ = unpack(ring, off)
            if not status & 1:  # TP_STATUS_USER
                break
            got.append(ring[off + mac:off + mac + snap])
            ring[off:off + 4] = b"\0\0\0\0"  # back to the kernel
            pos = pos + 1 if pos + 1 < NFRAMES else 0
        self.pos = pos

    def drops(self):
        """Frames the capture lost since the last call (struct tpacket_stats)."""
        return struct.unpack("II", self.cap.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]


def run_cmd(argv, data=None, quiet=False):
    """Runs argv in this namespace (data on its stdin; quiet: no stderr): its output.
    (posix_spawn rather than subprocess, a module too many to import.)"""
    rout, wout = os.pipe()
    acts = [(os.POSIX_SPAWN_DUP2, wout, 1)]
    if quiet:
        acts.append((os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0))
    if data is not None:
        rin, win = os.pipe()
        acts.append((os.POSIX_SPAWN_DUP2, rin, 0))
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=acts)
    os.close(wout)
    if data is not None:
        os.close(rin)
        os.write(win, data.encode())
        os.close(win)
    out = []
    while True:
        chunk = os.read(rout, 1 << 16)
        if not chunk:
            break
        out.append(chunk)
    os.close(rout)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status:
        raise RuntimeError("%s exited with %d" % (" ".join(argv), status))
    return b"".join(out).decode()


def tool(backend, fam, what):
    return "%s-%s-%s" % ("iptables" if fam == 4 else "ip6tables", backend, what)


def read_counting(backend, fam):
    """{rule number: packets} of the counting rules, from iptables-save -c."""
    counts = {}
    # (quiet: iptables-nft-save warns that iptables-legacy tables exist, if empty)
    for line in run_cmd([tool(backend, fam, "save"), "-c"], quiet=True).splitlines():
        if line.startswith("[") and "--comment" in line and "-j SSNAT" not in line:
            c = line.split("--comment", 1)[1].split()[0].strip('"')
            if c.startswith("fz"):
                counts[int(c[2:])] = int(line[1:line.index(":")])
    return counts


def read_proc():
    """{(table, family, rule number (its seed) or "profile:NAME"): counters}."""
    rows = {}
    with open("/proc/net/xt_SSNAT") as f:
        head = f.readline().split()
        for line in f:
            parts = line.split()
            mapping = parts[3]
            key = int(mapping.rpartition(",seed=0x")[2], 16) if ",seed=0x" in mapping else mapping
            rows[(parts[1], parts[2], key)] = dict(zip(head[4:], map(int, parts[4:])))
    return rows


FLUSH = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
        ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"


def restore(backend, fam, text, noflush=True):
    run_cmd([tool(backend, fam, "restore")] + (["--noflush"] if noflush else []), text)


# ---------------------------------------------------------------- checking

ROW = ("sent", "refused", "received", "reached", "norule", "rewritten") + REASONS


class Run:
    """What a run found: per (backend, path, family, kind, form) the packets sent,
    refused by the socket, and received by verdict; per rule what the model says of
    the packets that reached it; the failures."""

    def __init__(self, rules):
        self.rules = rules
        self.tally = {}  # (backend, path, fam, kind, form, field) -> n
        self.muts = {}
        self.failures = []
        self.nfail = 0
        self.per_rule = {}
        self.samples = {}  # (rule number, verdict) -> the shortest packets as the rule saw them
        self.cut = {}  # rule number -> packets with an extension header past their end
        self.t_send = 0.0

    def add(self, key, n=1):
        self.tally[key] = self.tally.get(key, 0) + n

    def fail(self, msg, *args):
        """Counts a problem; keeps the first 50 (msg % args, made only then)."""
        self.nfail += 1
        if len(self.failures) < 50:
            self.failures.append(msg % args if args else msg)


def diff_at(a, b):
    """The first offsets where a and b differ (16 bytes at a time: it may be big)."""
    d = []
    for o in range(0, max(len(a), len(b)), 16):
        if a[o:o + 16] != b[o:o + 16]:
            d += [i for i in range(o, o + 16) if a[i:i + 1] != b[i:i + 1]]
            if len(d) > 10:
                return ",".join(map(str, d[:10])) + "..."
    return ",".join(map(str, d))


def hexs(p, n=200):
    """p in hex, its first n bytes."""
    return bytes(p[:n]).hex() + ("...(%d bytes)" % len(p) if len(p) > n else "")


def judge(rules, sent, r, nft):
    """Checks received r against one sent packet: (errors, rule, model outcome, the
    packet as the rule saw it)."""
    fam, path, form, kind, pkt, mut = sent
    q = rule_view(pkt, fam, path)
    if q is None:
        return ["received, but the stack would drop it (a gap in this model of the stack)"], None, None, None
    if len(q) != len(r):
        return ["%d bytes received, %d sent (as the rule saw them)" % (len(r), len(q))], None, None, q
    rule = which_rule(rules, q, fam, path, form, nft)
    CUT_CHAIN.clear()
    out = model(q, rule.map) if type(rule) is Rule else None
    # What the receiver should get: forwarding takes one from the TTL (hop limit),
    # and the IPv4 header checksum must be right; a raw socket picks an IP ID for 0.
    e = bytearray(q)
    if fam == 4:
        e[10:12] = r[10:12]
        if path == "fwd":
            e[8] = q[8] - 1
        elif q[4] == 0 and q[5] == 0:
            e[4:6] = r[4:6]
        ihl = (r[0] & 15) * 4
        errs = ["bad IPv4 header checksum"] if osum(r[:ihl]) and 20 <= ihl <= len(r) else []
    else:
        if path == "fwd":
            e[7] = q[7] - 1
        errs = []
    if type(out) is Rw:
        apply_model(e, out, r)
        errs += check_sums(q, r, out)
    if e != r:
        errs.insert(0, "bytes %s differ from %s" % (diff_at(e, r), "the model's rewrite" if type(out) is Rw else
                                                     "what was sent (%s)" % ("no rule" if out is None else
                                                                             "skipped: " + REASONS[out])))
    if rule == "drop":
        errs.append("received, but ip6tables would drop it (hotdrop)")
    return errs, rule, out, q


def own_nd(r):
    """Whether r is the router's own neighbour discovery or MLD (ICMPv6 from its
    link-local address, as when a neighbour entry goes stale in a long run): not a
    packet of ours. MLD comes after a hop-by-hop header (router alert)."""
    if len(r) < 41 or r[0] >> 4 != 6 or r[8:10] != b"\xfe\x80":
        return False
    nh, off = r[6], 40
    if nh == 0 and len(r) >= 49:
        nh, off = r[40], 40 + (r[41] + 1) * 8
    return nh == 58 and len(r) > off and r[off] in (130, 131, 132, 133, 134, 135, 136, 143)


def check_received(run, sent, received, backend):
    """Matches each received packet to what was sent to its destination, checks it,
    and counts it by verdict."""
    nft = backend == "nft"
    rules, tally, per_rule, muts = run.rules, run.tally, run.per_rule, run.muts
    stray = []
    for key, r in received:
        cands = sent.get(key)
        if not cands:
            if not own_nd(r):
                stray.append(r)
            continue
        best = None
        for i, s in enumerate(cands):
            if s is None:
                continue
            v = judge(rules, s, r, nft)
            if not v[0]:
                best = (i, v)
                break
            if best is None or (v[1] is not None and best[1][1] is None):
                best = (i, v)
        if best is None:
            run.fail("%s: one packet too many to %s: %s", backend, key.hex(), hexs(r))
            continue
        i, (errs, rule, out, q) = best
        fam, path, form, kind, pkt, mut = cands[i]
        cands[i] = None
        if type(rule) is Rule:
            what = "rewritten" if type(out) is Rw else REASONS[out]
            pr = per_rule[rule.id]
            pr[what] += 1
            skey = (rule.id, what)
            if CUT_CHAIN and not errs:
                skey = (rule.id, "cut chain")
                run.cut[rule.id] = run.cut.get(rule.id, 0) + 1
            sample = run.samples.setdefault(skey, [])
            sample.append(q)  # the shortest three: reproducers
            if len(sample) > 3:
                sample.remove(max(sample, key=len))
        else:
            what = "norule" if rule is None else "dropped?"
        k = (backend, path, fam, kind, form, what)
        tally[k] = tally.get(k, 0) + 1
        muts[mut] = muts.get(mut, 0) + 1
        if errs:
            run.nfail += 1
            if len(run.failures) < 50:
                run.failures.append(
                    "%s %s ipv%d %s (%s), form %s, rule %s: model: %s\n      %s\n    sent     %s\n    rule saw %s\n"
                    "    received %s" % (
                        backend, path, fam, kind, mutation_name(mut), FORMS[form][0],
                        "%d (%s%s)" % (rule.id, rule.map.text, " -p %d" % rule.proto if rule.proto else "")
                        if type(rule) is Rule else rule,
                        "rewrite" if type(out) is Rw else REASONS[out] if out is not None else "-",
                        "; ".join(errs), hexs(pkt), hexs(q) if q else "-", hexs(r)))
    if stray:
        run.fail("%s: %d packets arrived to destinations nothing was sent to: %s" % (
            backend, len(stray), " ".join(hexs(r, 80) for r in stray[:3])))


def samples(run, rule_id, what):
    return " ".join(hexs(q, 160) for q in run.samples.get((rule_id, what), [])) or "none"


def check_counters(run, backend, counting, proc):
    """Per rule: the counting rule in front = packets + tracked + skip reasons, and
    each counter as the model says of the packets received (the rules are new, their
    counters start at zero)."""
    bad = 0
    for lst in run.rules.values():
        for rule in lst:
            table, fam_s = "mangle" if rule.path == "fwd" else "raw", "ipv%d" % rule.fam
            d = proc.get((table, fam_s, rule.id if rule.profile is None else "profile:" + rule.profile))
            if d is None:
                run.fail("%s: rule %d is not in /proc/net/xt_SSNAT" % (backend, rule.id))
                continue
            reached = counting[rule.fam].get(rule.id, 0)
            total = d["packets"] + d["tracked"] + sum(d[x] for x in REASONS)
            want = run.per_rule[rule.id]
            msgs = []
            if reached != total:
                msgs.append("the counting rule says %d, SSNAT's counters add up to %d" % (reached, total))
            if d["tracked"]:
                msgs.append("tracked %d (no conntrack in the router)" % d["tracked"])
            wsum = sum(want.values())
            if reached != wsum:
                msgs.append("%d reached it, the model sends %d of the packets received there" % (reached, wsum))
            if d["packets"] != want["rewritten"]:
                msgs.append("packets %d, the model %d" % (d["packets"], want["rewritten"]))
            for k in REASONS:
                if d[k] != want[k]:
                    msgs.append("%s %d, the model %d" % (k, d[k], want[k]))
            if msgs:
                for k in ("rewritten",) + REASONS:
                    if k != "rewritten" and d[k] != want[k] or k == "rewritten" and d["packets"] != want[k]:
                        msgs.append("\n      the shortest packets the model says %s: %s" % (
                            k, samples(run, rule.id, k)))
                if run.cut.get(rule.id):
                    msgs.append("\n      of those malformed, %d have an extension header past their end, "
                                "e.g. %s" % (run.cut[rule.id], samples(run, rule.id, "cut chain")))
            if msgs:
                bad += 1
                run.fail("%s: rule %d (%s %s %s: %s%s): %s" % (
                    backend, rule.id, rule.path, fam_s, FORMS[rule.form][0], rule.map.text,
                    " -p %d" % rule.proto if rule.proto else "", "; ".join(msgs)))
    return bad


def send_all(run, net, backend, rng, count):
    """Builds, mutates and sends count packets, a quarter per path and family:
    returns {destination: [sent record]}."""
    sent = {}
    tally = run.tally
    R = rng.random
    plans = [(path, fam) for path in PATHS for fam in FAMS]
    n = 0
    for j, (path, fam) in enumerate(plans):
        kinds = [k for k in KINDS[fam] if not (k == "paged" and path == "local")]
        cum = list(itertools.accumulate(KIND_WEIGHT[k] for k in kinds))
        maps = [run.rules[(fam, path, f)][0].map for f in range(NFORMS)]
        prefixes = [dst_addr(fam, path, f, 0)[:2 if fam == 4 else 8] for f in range(NFORMS)]
        width = 2 if fam == 4 else 8
        idx = [0] * NFORMS
        next_drain = n + 16
        stop = n + count // len(plans) + (count % len(plans) if j == 0 else 0)
        while n < stop:
            kind = kinds[bisect.bisect(cum, R() * cum[-1])]
            paged = kind == "paged"
            seeds = None
            # A seed, then mutants of it (each to its own destination, in any form).
            for _ in range(1 + int(R() * 6)):
                form = int(R() * NFORMS)
                idx[form] += 1
                dst = prefixes[form] + idx[form].to_bytes(width, "big")
                if seeds is None:
                    mapping = maps[form]
                    seeds = seed_packets(rng, fam, kind, pick_src(rng, fam, mapping), dst, mapping)
                    pkts = [(bytearray(pkt), info) for pkt, info in seeds]
                    dsum = osum(dst)
                else:
                    delta = osum(dst) - dsum
                    pkts = [(readdress(pkt, info, dst, delta), info) for pkt, info in seeds]
                group = sent[dst] = []
                k = (backend, path, fam, kind, form, "sent")
                tally[k] = tally.get(k, 0) + len(pkts)
                for pkt, info in pkts:
                    pkt, mut = mutate(rng, pkt, info, fam, path, paged)
                    linear = 0
                    if paged:  # the frame's bytes in the skb's linear part: Ethernet header and some
                        linear = 14 + max(0, min(len(pkt), rng.choice((0, 0, info[1] - 20, info[1], info[1] + 4,
                                                                       info[1] + rng.randint(1, 40), 200))))
                    t = time.perf_counter()
                    ok = net.send(fam, path, pkt, linear, dst)
                    run.t_send += time.perf_counter() - t
                    if ok:
                        group.append((fam, path, form, kind, pkt, mut))
                    else:
                        run.add((backend, path, fam, kind, form, "refused"))
                n += len(pkts)
                if n >= next_drain:
                    net.drain()
                    next_drain = n + 16
    return sent, n


def receive_all(run, net, backend, rng):
    """Sends a marker down each path; collects what the receiver got until every
    marker is in (packets keep their order on one CPU) and nothing more comes."""
    markers = set()
    for fam in FAMS:
        for path in PATHS:
            m = marker_addr(fam, path)
            markers.add(m)
            src = SRC[fam]
            seg = l4_seg(rng, fam, 17, src, m, 5004, 6000, 8)
            net.send(fam, path, (ip4(17, src, m, len(seg), 1) if fam == 4 else ip6(17, src, m, len(seg))) + seg, 0, m)
    received, seen, deadline, quiet = [], set(), time.time() + 30, 0
    while time.time() < deadline and (seen != markers or quiet < 2):
        net.drain()
        quiet = quiet + 1 if not net.got else 0
        for d in net.got:
            r = d[14:]
            et = d[12:14]
            key = bytes(r[16:20]) if et == b"\x08\x00" and len(r) >= 20 else \
                bytes(r[24:40]) if et == b"\x86\xdd" and len(r) >= 40 else None
            if key in markers:
                seen.add(key)
            elif key is not None:
                received.append((key, r))
        net.got = []
        select.select([net.cap], [], [], 0.1)
    if seen != markers:
        run.fail("%s: %d of the %d end markers arrived" % (backend, len(seen), len(markers)))
    drops = net.drops()
    if drops:
        run.fail("%s: the capture ring dropped %d packets" % (backend, drops))
    return received


def run_backend(run, net, backend, texts, rng, count, flush):
    """Loads the rules, sends count packets through them, checks what arrives and the
    counters; flushes the rules if another backend follows."""
    t0 = time.time()
    for fam in FAMS:
        restore(backend, fam, texts[fam])
    run.per_rule = {r.id: dict.fromkeys(("rewritten",) + REASONS, 0) for lst in run.rules.values() for r in lst}
    run.samples, run.cut = {}, {}
    t1 = time.time()
    sent, n = send_all(run, net, backend, rng, count)
    received = receive_all(run, net, backend, rng)
    t2 = time.time()
    check_received(run, sent, received, backend)
    t3 = time.time()
    bad = check_counters(run, backend, {f: read_counting(backend, f) for f in FAMS}, read_proc())
    if flush:
        for fam in FAMS:
            restore(backend, fam, FLUSH, noflush=False)
    print("# %s: %d packets sent, %d received; %.1f s to load the rules, %.1f s to send (%.1f s in send()), "
          "%.1f s to check, %.1f s for the counters and a flush; %d rules' counters disagree" % (
              backend, n, len(received), t1 - t0, t2 - t1, run.t_send, t3 - t2, time.time() - t3, bad), flush=True)
    run.t_send = 0.0
    return n


def print_tables(run):
    """The summary: per seed kind and mapping form, then per backend, path, family."""
    rows, paths = {}, {}
    for (backend, path, fam, kind, form, what), n in run.tally.items():
        for d, key in ((rows, (fam, kind, form)), (paths, (backend, path, fam))):
            r = d.setdefault(key, dict.fromkeys(ROW + ("dropped?",), 0))
            r[what] += n
            if what not in ("sent", "refused"):
                r["received"] += n
                if what != "norule":
                    r["reached"] += n
    cols = ROW[:-1] + ("dropped",)
    heads = ("sent", "refused", "recv", "reached", "no-rule", "rewrit", "trunc", "malf", "chain", "no-port", "unch",
             "dropped")
    print("# Per seed kind and mapping form, all paths and backends. reached .. unch: the model's verdicts on the\n"
          "# packets received, which each rule's counters confirm in total; refused: by the raw socket; dropped:\n"
          "# by the stack before the rule")
    print("# %-15s %-8s" % ("kind", "form") + "".join("%8s" % c for c in heads))
    tot = dict.fromkeys(cols, 0)
    for key in sorted(rows, key=lambda k: (k[0], KINDS[k[0]].index(k[1]), k[2])):
        r = rows[key]
        r["dropped"] = r["sent"] - r["refused"] - r["received"]
        for c in cols:
            tot[c] += r[c]
        print("# %-15s %-8s" % ("ipv%d/%s" % key[:2], FORMS[key[2]][0]) + "".join("%8d" % r[c] for c in cols))
    print("# %-24s" % "all" + "".join("%8d" % tot[c] for c in cols))
    print("# per backend, path and family:")
    for key in sorted(paths):
        r = paths[key]
        r["dropped"] = r["sent"] - r["refused"] - r["received"]
        print("# %-24s" % ("%s %s ipv%d" % key) + "".join("%8d" % r[c] for c in cols))
    print("# mutations of the packets received: " + ", ".join(
        "%s %d" % (mutation_name(m), c) for m, c in sorted(run.muts.items(), key=lambda kv: -kv[1])[:14]))


def parse_profiles(specs):
    """{(family, path): (name, --to-source, seed)} from NAME:FAM:PATH:SPEC[,SEED]."""
    out = {}
    for spec in specs:
        name, fam, path, rest = spec.split(":", 3)
        text, _, seed = rest.rpartition(",")
        out[(int(fam), path)] = (name, text, int(seed)) if text and seed.isdigit() else (name, rest, 0)
    return out


def cmd_run(a):
    t = time.time()
    gc.disable()  # many small objects, none cyclic: the collector would only cost time
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one CPU: packets keep their order
    rules, texts = make_rules(parse_profiles(a["profile"]))
    run = Run(rules)
    net = Net(a["rtr-mac"])
    print("# python started at %.1f: %.1f s to import, %.1f s to set up" % (T0, t - T0, time.time() - t), flush=True)
    rng = Rng(a["seed"])
    backends = a["backends"].split(",")
    total = 0
    for i, b in enumerate(backends):
        total += run_backend(run, net, b, texts, rng, a["count"] // len(backends) + (a["count"] % len(backends)
                                                                                     if i == 0 else 0),
                             flush=i + 1 < len(backends))
    print_tables(run)
    if a.get("out"):
        with open(os.path.join(a["out"], "pktfuzz-failures.txt"), "w") as f:
            f.write("\n".join(run.failures) + "\n")
    for m in run.failures[:10]:
        print("  " + m)
    if run.nfail:
        print("pktfuzz: %d problems in %d packets (seed %d)" % (run.nfail, total, a["seed"]))
        sys.exit(1)
    print("pktfuzz: %d packets (seed %d): each received as the model says, every rule's counters agree" % (
        total, a["seed"]))


# ---------------------------------------------------------------- self-test, host use

def _selftest_cases(P):
    """(packet, mapping, expected): worked out by hand from packet.rs, the packets made
    by ssnat_pkt."""
    u4 = P.build_packets(4, 17, "10.0.1.2", "10.0.2.2", 5004, 6000, b"x" * 8)[0]
    u6 = P.build_packets(6, 17, "2001:db8:1::2", "2001:db8:2::2", 5004, 6000, b"x" * 8)[0]
    lie = P.build_packets(4, 17, "10.0.1.2", "10.0.2.2", 5004, 6000, b"x" * 8, lie="udp-len")[0]
    fx, fx6 = parse_mapping(4, "198.51.100.7:4000"), parse_mapping(6, "[2001:db8:99::7]:4000")
    po, pf = parse_mapping(4, None, "4000"), parse_mapping(4, "198.51.100.0/24")
    long6 = bytes(P.ip_header(6, 60, P.addr_bytes("2001:db8:1::2"), P.addr_bytes("2001:db8:2::2"), 336)) + \
        bytes([17, 40]) + bytes(326) + bytes(8)
    frag = P.build_packets(4, 17, "10.0.1.2", "10.0.2.2", 5004, 6000, b"x" * 40, frag=16)
    mapped = P.build_packets(4, 17, "198.51.100.7", "10.0.2.2", 4000, 6000, b"")[0]
    gre = P.build_packets(4, 47, "10.0.1.2", "10.0.2.2", 0, 0, b"abcd")[0]
    cut4 = bytearray(u4[:27])
    cut4[2:4], cut4[10:12] = b"\0\x1b", b"\0\0"  # a UDP header cut short, the length saying so
    cut6 = bytearray(u6[:47])
    cut6[4:6] = b"\0\x07"
    # Destination options announced, none there: malformed.
    nodst = bytearray(u6[:40])
    nodst[4:7] = b"\0\0\x3c"
    return [(nodst, fx6, MALF), (u4, fx, "rw"), (cut4, fx, TRUNC), (u4[:27], fx, MALF), (lie, fx, MALF),
            (u6, fx6, "rw"),
            (long6, fx6, CHAIN), (frag[1], po, NOPORT), (frag[0], po, "rw"), (u4[:19], fx, TRUNC),
            (b"\x44" + u4[1:], fx, MALF), (mapped, fx, UNCH), (gre, po, NOPORT), (gre, pf, "rw"), (cut6, fx6, TRUNC),
            (u6[:4] + b"\0\x40" + u6[6:], fx6, MALF)]


def cmd_selftest(a):
    """The model on cases worked out from packet.rs, the hash as hash.rs's own test
    has it, the CRC32c against ssnat_pkt's."""
    import ssnat_pkt as P
    bad = 0
    cases = _selftest_cases(P)
    for pkt, m, want in cases:
        got = model(bytearray(pkt), m)
        if ("rw" if isinstance(got, Rw) else got) != want:
            bad += 1
            print("selftest: %s under %s: the model says %s, packet.rs %s" % (bytes(pkt).hex(), m.text, got, want))
    seen = [0] * 10  # pick(addr_hash(7, i, 10.0.0.1), 9) spreads
    for i in range(2000):
        seen[_pick(addr_hash(7, i.to_bytes(4, "big"), bytes((10, 0, 0, 1))), 9)] += 1
    if min(seen) < 150 or max(seen) > 250:
        bad += 1
        print("selftest: addr_hash and pick do not spread: %s" % seen)
    for data in (bytes(range(40)) + bytes(300), bytes(28) + bytes(5000), b"\1" * 40):
        if sctp_crc(data) != P.sctp_crc(data):
            bad += 1
            print("selftest: the fast CRC32c is not ssnat_pkt's on %d bytes" % len(data))
    if CRC32C != P.CRC32C:
        bad += 1
        print("selftest: CRC32c table differs from ssnat_pkt's")
    if bad:
        sys.exit(1)
    print("selftest: the model agrees with packet.rs on %d cases; hash and CRC32c as expected" % len(cases))


def cmd_model(a):
    for line in sys.stdin:
        fam, spec, seed, hx = line.split()
        fam = int(fam)
        m = parse_mapping(fam, None if spec.startswith(":") else spec, spec[1:] if spec.startswith(":") else None,
                          int(seed))
        p = bytearray.fromhex(hx)
        out = model(p, m)
        print("DONE " + bytes(apply_model(bytearray(p), out, p)).hex() if isinstance(out, Rw) else
              "SKIP " + REASONS[out])


def parse_args(argv):
    """COMMAND [--name VALUE]...: (command, {name: value}); --profile repeats."""
    if not argv or argv[0] not in ("run", "selftest", "model") or len(argv[1:]) % 2:
        sys.exit(__doc__)
    a = {"profile": [], "backends": "legacy,nft"}
    for name, value in zip(argv[1::2], argv[2::2]):
        name = name[2:]
        if name == "profile":
            a["profile"].append(value)
        elif name in ("seed", "count"):
            a[name] = int(value)
        elif name in ("rtr-mac", "backends", "out"):
            a[name] = value
        else:
            sys.exit("unknown option --%s\n%s" % (name, __doc__))
    if argv[0] == "run" and not all(k in a for k in ("seed", "count", "rtr-mac")) or not a["profile"] and \
            argv[0] == "run":
        sys.exit(__doc__)
    return argv[0], a


def main():
    cmd, a = parse_args(sys.argv[1:])
    {"run": cmd_run, "selftest": cmd_selftest, "model": cmd_model}[cmd](a)


if __name__ == "__main__":
    main()
