#!/usr/bin/env python3
"""Malformed requests to the SSNAT generic netlink family, made by hand (ssnatctl
cannot send them): each must be refused with the expected errno and an extended-ack
message, and nothing created. Prints one line per case; exits 1 if any case differs.

Usage: genl_raw.py        (in the namespace to test; the module must be loaded)
       genl_raw.py dump-intr   a dump of many profiles, with one added while it runs,
                               must flag its later messages NLM_F_DUMP_INTR
       genl_raw.py flip NAME ADDR:PORT ADDR:PORT SECONDS
                         replaces IPv4 profile NAME's mapping with each of the two in
                         turn, as fast as the kernel takes it, for SECONDS; prints the
                         number of replacements
"""
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NETLINK_CAP_ACK = 10
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_MISS_TYPE = 1, 5
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
# The ABI (ssnat-core/src/genl.rs).
NEW, SET, DEL, GET = 1, 2, 3, 4
NAME, FAMILY, FLAGS, MIN_ADDR, MAX_ADDR, PREFIX_LEN, MIN_PORT, MAX_PORT, SEED, RULES, STATS, PAD = range(1, 13)


def nla(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * (-n % 4)


def attrs(b):
    out, i = {}, 0
    while i + 4 <= len(b):
        n, t = struct.unpack_from("=HH", b, i)
        if n < 4:
            break
        out[t & 0x3FFF] = b[i + 4:i + n]
        i += (n + 3) & ~3
    return out


class Genl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.settimeout(3)  # a message the kernel drops gets no answer
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.seq = 0
        err, msgs = self.raw(GENL_ID_CTRL, struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) +
                             nla(CTRL_ATTR_FAMILY_NAME, b"SSNAT\0"))
        if err:
            sys.exit("family SSNAT not found: %s" % os.strerror(-err[0]))
        self.id = struct.unpack("=H", attrs(msgs[0][4:])[CTRL_ATTR_FAMILY_ID])[0]

    def raw(self, typ, body, flags=NLM_F_REQUEST | NLM_F_ACK, length=None):
        """Sends one message; returns ((errno, extack msg, miss_type) or None, replies)."""
        self.seq += 1
        n = 16 + len(body) if length is None else length
        self.s.send(struct.pack("=IHHII", n, typ, flags, self.seq, 0) + body)
        replies = []
        while True:
            d = self.s.recv(65536)
            i = 0
            while i + 16 <= len(d):
                n, t, f, _, _ = struct.unpack_from("=IHHII", d, i)
                if t == NLMSG_DONE:
                    return None, replies
                if t == NLMSG_ERROR:
                    e = struct.unpack_from("=i", d, i + 16)[0]
                    if e == 0:
                        return None, replies
                    # nlmsgerr: error, then the request's header (capped: no payload).
                    tlv = attrs(d[i + 36:i + n]) if f & NLM_F_ACK_TLVS else {}
                    msg = tlv.get(NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode()
                    miss = tlv.get(NLMSGERR_ATTR_MISS_TYPE)
                    miss = struct.unpack("=I", miss)[0] if miss else None
                    return (e, msg, miss), replies
                replies.append(d[i + 16:i + n])
                i += (n + 3) & ~3

    def cmd(self, cmd, *a, version=1, length=None):
        return self.raw(self.id, struct.pack("=BBH", cmd, version, 0) + b"".join(a), length=length)[0]


def ok_mapping(name=b"x\0"):
    return [nla(NAME, name), nla(FAMILY, b"\x02"), nla(FLAGS, struct.pack("=H", 3)),
            nla(MIN_ADDR, bytes([198, 51, 100, 7])), nla(MAX_ADDR, bytes([198, 51, 100, 7])),
            nla(MIN_PORT, struct.pack("=H", 4000)), nla(MAX_PORT, struct.pack("=H", 4000))]


def replace(lst, t, data):
    return [nla(t, data) if struct.unpack_from("=H", a, 2)[0] == t else a for a in lst]


# (case, errno, text the extended-ack message must contain (None: any message; "": none
# needed), miss_type). The netlink core's own policy messages are generic ("Attribute
# failed policy validation"); ours name the problem.
E = {"EINVAL": 22, "ERANGE": 34, "EOPNOTSUPP": 95, "ENOENT": 2}
CASES = [
    ("name without NUL", [NEW] + replace(ok_mapping(), NAME, b"x"), "EINVAL", None, None),
    ("name of 40 bytes", [NEW] + replace(ok_mapping(), NAME, b"a" * 40 + b"\0"), "EINVAL", None, None),
    ("name with a space", [NEW] + replace(ok_mapping(), NAME, b"a b\0"), "EINVAL", "bad profile name", None),
    ("name with a NUL inside", [NEW] + replace(ok_mapping(), NAME, b"ab\0cd\0"), "EINVAL", "bad profile name", None),
    ("family as u16", [NEW] + replace(ok_mapping(), FAMILY, b"\x02\x00"), "EINVAL", None, None),
    ("family 7", [NEW] + replace(ok_mapping(), FAMILY, b"\x07"), "EINVAL", "family", None),
    ("no family", [NEW] + [a for a in ok_mapping() if struct.unpack_from("=H", a, 2)[0] != FAMILY],
     "EINVAL", "address family", FAMILY),
    ("no name", [NEW] + ok_mapping()[1:], "EINVAL", "missing profile name", NAME),
    ("address flag, no address", [NEW] + [a for a in ok_mapping() if struct.unpack_from("=H", a, 2)[0] not in
                                          (MIN_ADDR, MAX_ADDR)], "EINVAL", "needs its (first) address", MIN_ADDR),
    ("port flag, no port", [NEW] + [a for a in ok_mapping() if struct.unpack_from("=H", a, 2)[0] not in
                                    (MIN_PORT, MAX_PORT)], "EINVAL", "needs its (first) port", MIN_PORT),
    ("address of 5 bytes", [NEW] + replace(ok_mapping(), MIN_ADDR, b"\1\2\3\4\5"), "EINVAL",
     "address length", None),
    ("address of 17 bytes", [NEW] + replace(ok_mapping(), MIN_ADDR, b"\1" * 17), "ERANGE", None, None),
    ("unknown flag", [NEW] + replace(ok_mapping(), FLAGS, struct.pack("=H", 0x8003)), "EINVAL",
     "unknown flags", None),
    ("F_PROFILE in a profile", [NEW] + replace(ok_mapping(), FLAGS, struct.pack("=H", 0xB)), "EINVAL",
     "unknown flags", None),
    ("no address or port", [NEW] + replace(ok_mapping(), FLAGS, struct.pack("=H", 0)), "EINVAL",
     "no address or port", None),
    ("reversed ports", [NEW] + replace(ok_mapping(), MAX_PORT, struct.pack("=H", 3999)), "EINVAL",
     "bad port range", None),
    ("port 0", [NEW] + replace(replace(ok_mapping(), MIN_PORT, b"\0\0"), MAX_PORT, b"\0\0"), "EINVAL",
     "bad port range", None),
    ("reversed addresses", [NEW] + replace(ok_mapping(), MAX_ADDR, bytes([198, 51, 100, 6])), "EINVAL",
     "bad address range", None),
    ("prefix length 33", [NEW] + replace(ok_mapping(), FLAGS, struct.pack("=H", 5)) + [nla(PREFIX_LEN, b"\x21")],
     "EINVAL", "bad prefix", None),
    ("RULES in a request", [NEW] + ok_mapping() + [nla(RULES, struct.pack("=I", 1))], "EINVAL", None, None),
    ("STATS in a request", [NEW] + ok_mapping() + [nla(STATS, b"")], "EINVAL", None, None),
    ("unknown attribute 99", [NEW] + ok_mapping() + [nla(99, b"\0\0\0\0")], "EINVAL", None, None),
    ("unknown command 99", [99] + ok_mapping(), "EOPNOTSUPP", "", None),
    ("SET of a missing profile", [SET] + ok_mapping(b"nosuch\0"), "ENOENT", "no such profile", None),
    ("DEL of a missing profile", [DEL, nla(NAME, b"nosuch\0")], "ENOENT", "no such profile", None),
    ("GET of a missing profile", [GET, nla(NAME, b"nosuch\0")], "ENOENT", "no such profile", None),
]


def main():
    g = Genl()
    bad = 0
    for what, req, errname, text, miss in CASES:
        got = g.cmd(req[0], *req[1:])
        want = E[errname]
        good = (got is not None and -got[0] == want and (text is None or text in got[1])
                and (text is not None or got[1] != "") and (miss is None or got[2] == miss))
        bad += not good
        shown = "success" if got is None else "%s \"%s\"%s" % (
            os.strerror(-got[0]), got[1], "" if got[2] is None else " missing %d" % got[2])
        print("%-4s %-26s %s" % ("ok" if good else "BAD", what, shown))
    # A message whose length lies (longer than sent, then shorter than its header).
    for what, length in (("length past the end", 200), ("length inside the header", 18)):
        try:
            err = g.cmd(NEW, *ok_mapping(), length=length)
            print("ok   %-26s %s" % (what, "refused: %s" % os.strerror(-err[0]) if err else "accepted"))
        except socket.timeout:
            print("ok   %-26s dropped by the netlink core (no answer)" % what)
        except OSError as e:
            print("ok   %-26s %s" % (what, e.strerror))
    # Nothing of the above created a profile.
    g2 = Genl()
    err, replies = g2.raw(g2.id, struct.pack("=BBH", GET, 1, 0), flags=NLM_F_REQUEST | 0x300)
    names = [attrs(r[4:]).get(NAME, b"").rstrip(b"\0").decode() for r in replies]
    print("profiles after the bad requests: %s" % (names or "none"))
    if err or names:
        bad += 1
    # And a good request still works.
    if g2.cmd(NEW, *ok_mapping(b"good\0")) is not None or g2.cmd(DEL, nla(NAME, b"good\0")) is not None:
        print("BAD  a good NEW and DEL after the bad requests failed")
        bad += 1
    sys.exit(1 if bad else 0)


def dump_intr(n=600):
    """Creates n profiles, reads the first datagram of a dump, adds a profile from
    another socket, reads the rest: the dump must report the change."""
    g, other = Genl(), Genl()
    for i in range(n):
        err = g.cmd(NEW, *ok_mapping(b"p%d\0" % i))
        if err:
            sys.exit("NEW p%d: %s" % (i, os.strerror(-err[0])))
    g.seq += 1
    body = struct.pack("=BBH", GET, 1, 0)
    g.s.send(struct.pack("=IHHII", 16 + len(body), g.id, NLM_F_REQUEST | 0x300, g.seq, 0) + body)
    seen, intr_before, intr_after, added, done = 0, 0, 0, False, False
    while not done:
        d = g.s.recv(1 << 20)
        i = 0
        while i + 16 <= len(d):
            ln, t, f, _, _ = struct.unpack_from("=IHHII", d, i)
            if t in (NLMSG_DONE, NLMSG_ERROR):
                done = True
                break
            seen += 1
            if f & 0x10:  # NLM_F_DUMP_INTR
                if added:
                    intr_after += 1
                else:
                    intr_before += 1
            i += (ln + 3) & ~3
        if not added:
            if other.cmd(NEW, *ok_mapping(b"late\0")):
                sys.exit("NEW late failed")
            added = True
    print("dump: %d messages, %d flagged NLM_F_DUMP_INTR after a profile was added "
          "(%d before)" % (seen, intr_after, intr_before))
    for i in range(n):
        g.cmd(DEL, nla(NAME, b"p%d\0" % i))
    g.cmd(DEL, nla(NAME, b"late\0"))
    sys.exit(0 if seen >= n and intr_after > 0 and intr_before == 0 else 1)


def flip(name, a, b, seconds):
    import time
    g = Genl()
    maps = []
    for m in (a, b):
        addr, port = m.rsplit(":", 1)
        ip = socket.inet_aton(addr)
        p = struct.pack("=H", int(port))
        maps.append([nla(NAME, name.encode() + b"\0"), nla(FAMILY, b"\x02"), nla(FLAGS, struct.pack("=H", 3)),
                     nla(MIN_ADDR, ip), nla(MAX_ADDR, ip), nla(MIN_PORT, p), nla(MAX_PORT, p)])
    n = 0
    end = time.time() + seconds
    while time.time() < end:
        err = g.cmd(SET, *maps[n % 2])
        if err:
            sys.exit("SET %s: %s %s" % (name, os.strerror(-err[0]), err[1]))
        n += 1
    print(n)


if __name__ == "__main__":
    if sys.argv[1:2] == ["dump-intr"]:
        dump_intr()
    elif sys.argv[1:2] == ["flip"]:
        flip(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        main()
