#!/usr/bin/env python3
"""Fuzzes the SSNAT generic netlink family: random commands (and unknown ones),
attributes of known and unknown types, short, long and odd lengths, nesting where the
policy wants none, odd netlink flags, truncated, lying and oversized messages, several
messages in one sendmsg; interleaved with rule steps that add and delete rules using
the profiles. A model of the profile table (each profile with its entries, in the
order they were added), of the netlink core's checks (netlink_rcv_skb,
genl_family_rcv_msg, the strict attribute policy, netlink_dump's report of a dump's
error in NLMSG_DONE) and of the handlers predicts every answer; after each sendmsg a
dump of the profiles must equal the model, and so must a dump of the entries of every
profile the sendmsg's entry requests named (and of one more, in turn); the events
group must have announced exactly the changes that succeeded, profiles' and entries'.
Entry requests draw their keys mostly from a small pool (so that EEXIST, ENOENT and
SET of an existing entry happen, and max_entries is met), and now and then mutate
them (address lengths, port 0 for a protocol with ports, a port for one without,
unknown protocols). Every refusal must carry an extended-ack message, but for those
the netlink core gives without one (unknown family, a message shorter than its genl
header, an unknown command or one without a dump, EPERM) and the entry dump's own
(EINVAL, ENOENT in NLMSG_DONE): the summary counts both kinds by errno.

Usage: genlfuzz.py COUNT [--seed N] [--ipt iptables-legacy] [--unpriv K] [--userns K]
                   [--cap N] [--entry-cap N] [--rule-rate P] [--watchdog SECONDS]
   as root, in the namespace to fuzz (32-fuzz-netlink.sh: the initial one): COUNT
   messages as root, with a rule step after a sendmsg with probability P (default
   0.015): the legacy raw table's OUTPUT replaced whole from here (IPT_SO_SET_REPLACE),
   or one step in six, -A/-D in mangle OUTPUT through one IPT-restore --noflush (and
   ip6tables' likewise); then K messages from an unprivileged user (uid 65534, no
   groups, no capabilities, as setpriv makes it: every request must get EPERM,
   reading included, and nothing change here), then K from that user in a user and
   network namespace of its own (as unshare -Urn makes it: there it may manage
   profiles and their entries, and must see none of this namespace's). With --cap,
   max_profiles is set to N for the run (if the module has the parameter) so that NEW
   meets its limit; likewise max_entries with --entry-cap (default 4, so that
   ENTRY_NEW meets its limit; "keep" leaves it as it is). Both are restored at the
   end. Last line: "root: messages N ... mismatches M"; exit status 1 if M > 0 or a
   child failed. (The two others are this process forked, with its credentials
   changed as setpriv and unshare would.)
       genlfuzz.py selftest
   the model on hand-made requests, and the generator and model on random ones,
   offline (no kernel needed).
"""
import errno
import faulthandler
import os
import random
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genl_raw as G  # noqa: E402
import rulefuzz as RF  # noqa: E402  (the mapping rules and a blob generator)

E = errno
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 1, 2, 4, 8
NLM_F_DUMP_INTR, NLM_F_ROOT, NLM_F_MATCH, NLM_F_DUMP = 0x10, 0x100, 0x200, 0x300
NLM_F_CREATE, NLM_F_APPEND, NLM_F_ACK_TLVS = 0x400, 0x800, 0x200
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_MIN_TYPE = 1, 2, 3, 0x10
NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_TYPE_MASK = 0x8000, 0x4000, 0x3FFF
NETLINK_ADD_MEMBERSHIP = 1
CTRL_ATTR_MCAST_GROUPS = 7
NAME, FAMILY, FLAGS, MIN_ADDR, MAX_ADDR, PREFIX_LEN = G.NAME, G.FAMILY, G.FLAGS, G.MIN_ADDR, G.MAX_ADDR, G.PREFIX_LEN
MIN_PORT, MAX_PORT, SEED, RULES, STATS, PAD = G.MIN_PORT, G.MAX_PORT, G.SEED, G.RULES, G.STATS, G.PAD
ENTRIES, DST_ADDR, DST_PORT, PROTO = 13, 14, 15, 16
NEW, SET, DEL, GET = G.NEW, G.SET, G.DEL, G.GET
ENTRY_NEW, ENTRY_SET, ENTRY_DEL, ENTRY_GET, ENTRY_FLUSH = 5, 6, 7, 8, 9
CMDS = {NEW: "NEW", SET: "SET", DEL: "DEL", GET: "GET", ENTRY_NEW: "ENTRY_NEW", ENTRY_SET: "ENTRY_SET",
        ENTRY_DEL: "ENTRY_DEL", ENTRY_GET: "ENTRY_GET", ENTRY_FLUSH: "ENTRY_FLUSH"}
ENTRY_CMDS = (ENTRY_NEW, ENTRY_SET, ENTRY_DEL, ENTRY_GET, ENTRY_FLUSH)
DUMPS = (GET, ENTRY_GET)        # the commands with a dump
V4, V6 = RF.NFPROTO_IPV4, RF.NFPROTO_IPV6
# Protocols whose entries need a destination port (ssnat-core's DEST_PORT_PROTOCOLS:
# TCP, UDP, DCCP, SCTP, UDP-Lite); an entry of any other has port 0.
PORT_PROTOS = (6, 17, 33, 132, 136)

# The family's policy (module/profiles.rs POLICY), as the netlink core applies it
# (NL_VALIDATE_STRICT: unknown types, trailing bytes, exact integer sizes and the
# NLA_F_NESTED bit are all refused).
POLICY = {NAME: ("string", 31), FAMILY: ("int", 1), FLAGS: ("int", 2), MIN_ADDR: ("binary", 16),
          MAX_ADDR: ("binary", 16), PREFIX_LEN: ("int", 1), MIN_PORT: ("int", 2), MAX_PORT: ("int", 2),
          SEED: ("int", 4), RULES: ("reject",), STATS: ("reject",), PAD: ("reject",), ENTRIES: ("reject",),
          DST_ADDR: ("binary", 16), DST_PORT: ("int", 2), PROTO: ("int", 1)}
MAXATTR = 16
POOL = [b"a", b"b", b"moh", b"x.y", b"A-1", b"_", b"n" * 31, b"p4", b"p6", b"q", b"z9", b"..", b"0", b"m-2"]


def u16(b):
    return struct.unpack("=H", b)[0]


def u32(b):
    return struct.unpack("=I", b)[0]


def u64(b):
    return struct.unpack("=Q", b)[0]


# ---- the model -------------------------------------------------------------------------
class Fail(Exception):
    """A refusal: errno, and whether an extended-ack message must come with it."""

    def __init__(self, err, msg=True, why=""):
        self.err, self.msg, self.why = err, msg, why


PARSED = {}


def parse_attrs(b):
    """The strict policy over a message's attributes: {type: payload} (last one wins)
    or Fail. A leading NAME is parsed on its own and what follows it looked up (what
    follows a name comes from a pool of bodies: parsing is what costs in the guest)."""
    if len(b) >= 8:
        alen, atype = struct.unpack_from("=HH", b, 0)
        if atype == NAME and 4 <= alen <= len(b):
            tb = parse_uncached(b[:alen])
            rest = b[(alen + 3) & ~3:]
            got = PARSED.get(rest)
            if got is None:
                if len(PARSED) > 20000:
                    PARSED.clear()
                try:
                    got = PARSED[rest] = parse_uncached(rest)
                except Fail as f:
                    got = PARSED[rest] = f
            if isinstance(got, Fail):
                raise Fail(got.err, got.msg, got.why)
            tb.update(got)
            return tb
    return parse_uncached(b)


def parse_uncached(b):
    tb, pos, rem = {}, 0, len(b)
    while rem >= 4:
        alen, atype = struct.unpack_from("=HH", b, pos)
        if alen < 4 or alen > rem:
            break
        t, data = atype & NLA_TYPE_MASK, b[pos + 4:pos + alen]
        if t == 0 or t > MAXATTR:
            raise Fail(E.EINVAL, why="unknown attribute type %d" % t)
        kind = POLICY[t]
        if kind[0] == "int" and len(data) != kind[1]:
            raise Fail(E.EINVAL, why="attribute %d of %d bytes" % (t, len(data)))
        if atype & NLA_F_NESTED:
            raise Fail(E.EINVAL, why="NLA_F_NESTED on attribute %d" % t)
        if kind[0] == "reject":
            raise Fail(E.EINVAL, why="kernel-only attribute %d" % t)
        if kind[0] == "string":
            if not data or 0 not in data[:kind[1] + 1]:
                raise Fail(E.EINVAL, why="name without NUL")
            if len(data) - (data[-1] == 0) > kind[1]:
                raise Fail(E.ERANGE, why="name too long")
        if kind[0] == "binary" and len(data) > kind[1]:
            raise Fail(E.ERANGE, why="address of %d bytes" % len(data))
        tb[t] = data
        step = (alen + 3) & ~3
        pos, rem = pos + step, rem - step
    if rem > 0:
        raise Fail(E.EINVAL, why="bytes left over after the attributes")
    return tb


def addr_len(fam):
    return 4 if fam == V4 else 16


class Profile:
    def __init__(self, name, info):
        self.name, self.info, self.rules = name, info, 0
        self.entries = {}        # (protocol, address, port) -> mapping, in the order added

    def snap(self):
        i = self.info
        n = addr_len(i["family"])
        return (self.name, i["family"], i["flags"], i["mina"][:n], i["maxa"][:n], i["plen"], i["minp"],
                i["maxp"], i["seed"], self.rules, len(self.entries))

    def esnap(self, key):
        """Entry `key` as an ENTRY_GET reply, a dump and ENTRY_NEW/SET events carry it
        (its counters zero: no packet reaches a rule here)."""
        i = self.entries[key]
        n = addr_len(i["family"])
        return (self.name,) + key + (i["family"], i["flags"], i["mina"][:n], i["maxa"][:n], i["plen"], i["minp"],
                                     i["maxp"], i["seed"], 0, 0)

    def edump(self):
        return [self.esnap(k) for k in self.entries]


SNAPS = {}
# What a message of each command carries: a profile, an entry, an entry's key (ENTRY_DEL),
# a name and a count (ENTRY_FLUSH).
KIND = {ENTRY_NEW: "entry", ENTRY_SET: "entry", ENTRY_GET: "entry", ENTRY_DEL: "key", ENTRY_FLUSH: "flush"}


def snap_of(attrs, cmd=GET):
    """A profile (or, by the message's command, an entry, a key, a flush) as a reply,
    dump or event carries it, comparable with Profile.snap and esnap (remembered: most
    messages repeat one seen before)."""
    k = (KIND.get(cmd, "profile"), attrs)
    s = SNAPS.get(k)
    if s is None:
        if len(SNAPS) > 20000:
            SNAPS.clear()
        s = SNAPS[k] = parse_snap(*k)
    return s


def parse_snap(kind, attrs):
    a = G.attrs(attrs)
    try:
        name = a[NAME].rstrip(b"\0")
        if kind == "profile":
            return (name, a[FAMILY][0], u16(a[FLAGS]), a[MIN_ADDR], a[MAX_ADDR], a[PREFIX_LEN][0],
                    u16(a[MIN_PORT]), u16(a[MAX_PORT]), u32(a[SEED]), u32(a[RULES]), u32(a[ENTRIES]))
        if kind == "flush":
            extra = sorted(set(a) - {NAME, ENTRIES})
            return (name, u32(a[ENTRIES])) + ((("extra", extra),) if extra else ())
        key = (name, a[PROTO][0], a[DST_ADDR], u16(a[DST_PORT]))
        if kind == "key":
            extra = sorted(set(a) - {NAME, PROTO, DST_ADDR, DST_PORT})
            return key + ((("extra", extra),) if extra else ())
        st = G.attrs(a[STATS])
        return key + (a[FAMILY][0], u16(a[FLAGS]), a[MIN_ADDR], a[MAX_ADDR], a[PREFIX_LEN][0], u16(a[MIN_PORT]),
                      u16(a[MAX_PORT]), u32(a[SEED]), u64(st[1]), u64(st[2]))
    except (KeyError, IndexError, struct.error):
        return ("malformed", kind, attrs.hex())


class Model:
    """The profile table of one namespace, with the profiles' entries, and what the
    kernel answers."""

    def __init__(self, family_id, privileged, cap, ecap=None):
        self.id, self.priv, self.cap, self.ecap = family_id, privileged, cap, ecap
        self.table = {}          # name -> Profile, in creation order (dicts keep it)
        self.version = 0         # bumped on every change
        self.touched = set()     # profiles whose entries requests named since the last check

    def dump(self):
        return [p.snap() for p in self.table.values()]

    @staticmethod
    def valid_name(raw):
        """The name a NAME attribute's payload carries, or None (parse_name)."""
        s = raw[:-1]
        # (the policy saw a NUL; it must be the last byte and the only one: b"ab\0cd\0"
        # is no name)
        if raw[-1:] != b"\0" or b"\0" in s or RF.name_of(s.ljust(32, b"\0")[:32]) is None or len(s) > 31:
            return None
        return s

    def name(self, tb):
        if NAME not in tb:
            raise Fail(E.EINVAL, why="no name")
        s = self.valid_name(tb[NAME])
        if s is None:
            raise Fail(E.EINVAL, why="bad name")
        return s

    def profile(self, name):
        p = self.table.get(name)
        if p is None:
            raise Fail(E.ENOENT, why="no such profile")
        return p

    @staticmethod
    def mapping(tb, none_ok):
        """req_mapping: the mapping of a NEW or SET; with none_ok (a profile's), flags 0
        are a profile of entries only, which takes no address or port."""
        if FAMILY not in tb:
            raise Fail(E.EINVAL, why="no family")
        if FLAGS not in tb:
            raise Fail(E.EINVAL, why="no flags")
        fam, flags = tb[FAMILY][0], u16(tb[FLAGS])
        if fam not in (V4, V6):
            raise Fail(E.EINVAL, why="family %d" % fam)
        if flags & RF.F_MAP_ADDR and MIN_ADDR not in tb:
            raise Fail(E.EINVAL, why="address mapping without MIN_ADDR")
        if flags & RF.F_MAP_PORT and MIN_PORT not in tb:
            raise Fail(E.EINVAL, why="port mapping without MIN_PORT")
        n = addr_len(fam)
        addr = {}
        for t in (MIN_ADDR, MAX_ADDR):
            if t in tb:
                if len(tb[t]) != n:
                    raise Fail(E.EINVAL, why="address length")
                addr[t] = tb[t] + bytes(16 - n)
        mina = addr.get(MIN_ADDR, bytes(16))
        maxa = addr.get(MAX_ADDR, mina if flags & RF.F_MAP_ADDR else bytes(16))
        minp = u16(tb[MIN_PORT]) if MIN_PORT in tb else 0
        info = dict(flags=flags, family=fam, plen=tb[PREFIX_LEN][0] if PREFIX_LEN in tb else 0, minp=minp,
                    maxp=u16(tb[MAX_PORT]) if MAX_PORT in tb else minp, mina=mina, maxa=maxa,
                    seed=u32(tb[SEED]) if SEED in tb else 0, reserved=0)
        if none_ok and flags == 0:
            if any(mina) or any(maxa) or info["plen"] or minp or info["maxp"]:
                raise Fail(E.EINVAL, why="entries only, but an address or port")
            return info
        why = RF.mapping_invalid(info, fam)
        if why:
            raise Fail(E.EINVAL, why=why)
        return info

    @staticmethod
    def key(tb, p):
        """req_key: the entry key of a request to profile p."""
        proto = tb[PROTO][0] if PROTO in tb else 17
        if DST_ADDR not in tb:
            raise Fail(E.EINVAL, why="no destination address")
        addr = tb[DST_ADDR]
        if len(addr) != addr_len(p.info["family"]):
            raise Fail(E.EINVAL, why="destination address of %d bytes" % len(addr))
        port = u16(tb[DST_PORT]) if DST_PORT in tb else 0
        if proto in PORT_PROTOS and not port:
            raise Fail(E.EINVAL, why="protocol %d without a port" % proto)
        if port and proto not in PORT_PROTOS:
            raise Fail(E.EINVAL, why="a port for protocol %d" % proto)
        return (proto, addr, port)

    def genl(self, msg, flags):
        """One request to the family: (answers, events); raises Fail."""
        if len(msg) < 20:
            raise Fail(E.EINVAL, msg=False, why="shorter than the genl header")
        cmd, _version, reserved = struct.unpack_from("=BBH", msg, 16)
        if reserved:
            raise Fail(E.EINVAL, why="genlmsghdr.reserved")
        dump = flags & NLM_F_DUMP == NLM_F_DUMP
        if (flags & ~NLM_F_DUMP if dump else flags) & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO):
            raise Fail(E.EINVAL, why="flags 0x%x" % flags)
        if (dump and cmd not in DUMPS) or cmd not in CMDS:
            raise Fail(E.EOPNOTSUPP, msg=False, why="no operation %d%s" % (cmd, " dump" if dump else ""))
        if not self.priv:
            raise Fail(E.EPERM, msg=False, why="no CAP_NET_ADMIN")
        tb = parse_attrs(msg[20:])
        if dump:
            if cmd == GET:
                return [("dump", self.dump(), 0, False)], []
            # dump_entries, in netlink_dump's first round: an error there ends the dump
            # with the errno in NLMSG_DONE (no extended-ack message), and no ack follows.
            name = self.valid_name(tb[NAME]) if NAME in tb else None
            if name is None:
                return [("dump", [], E.EINVAL, True)], []
            p = self.table.get(name)
            if p is None:
                return [("dump", [], E.ENOENT, True)], []
            return [("dump", p.edump(), 0, True)], []
        name = self.name(tb)
        if cmd in ENTRY_CMDS:
            return self.entry(cmd, flags, tb, name)
        if cmd == NEW:
            info = self.mapping(tb, True)
            if name in self.table:
                raise Fail(E.EEXIST, why="exists")
            if self.cap is not None and len(self.table) >= self.cap:
                raise Fail(E.ENOSPC, why="max_profiles")
            p = self.table[name] = Profile(name, info)
            return self.echo(flags, NEW, p.snap()), [(NEW, p.snap())]
        if cmd == SET:
            info = self.mapping(tb, True)
            p = self.profile(name)
            if p.info["family"] != info["family"] and p.rules:
                raise Fail(E.EBUSY, why="family of a profile in use")
            if p.info["family"] != info["family"] and p.entries:
                raise Fail(E.EBUSY, why="family of a profile with entries")
            p.info = info
            return self.echo(flags, SET, p.snap()), [(SET, p.snap())]
        p = self.profile(name)
        if cmd == DEL:
            if p.rules:
                raise Fail(E.EBUSY, why="in use")
            del self.table[name]
            return self.echo(flags, DEL, p.snap()), [(DEL, p.snap())]
        return [("msg", GET, p.snap())], []

    def entry(self, cmd, flags, tb, name):
        """An entry request (req_entry's order: name, profile, key, mapping)."""
        p = self.profile(name)
        self.touched.add(name)
        if cmd == ENTRY_FLUSH:
            s = (name, len(p.entries))
            p.entries = {}
            return self.echo(flags, cmd, s), [(cmd, s)]
        key = self.key(tb, p)
        if cmd in (ENTRY_NEW, ENTRY_SET):
            info = self.mapping(tb, False)
            if info["family"] != p.info["family"]:
                raise Fail(E.EINVAL, why="an entry of the other family")
            if cmd == ENTRY_SET and key not in p.entries:
                raise Fail(E.ENOENT, why="no such entry")
            if cmd == ENTRY_NEW and key in p.entries:
                raise Fail(E.EEXIST, why="entry exists")
            if cmd == ENTRY_NEW and self.ecap is not None and len(p.entries) >= self.ecap:
                raise Fail(E.ENOSPC, why="max_entries")
            p.entries[key] = info           # (a SET keeps the entry's place)
            s = p.esnap(key)
            return self.echo(flags, cmd, s), [(cmd, s)]
        if key not in p.entries:
            raise Fail(E.ENOENT, why="no such entry")
        if cmd == ENTRY_DEL:
            del p.entries[key]
            s = (name,) + key
            return self.echo(flags, cmd, s), [(cmd, s)]
        return [("msg", ENTRY_GET, p.esnap(key))], []

    @staticmethod
    def echo(flags, cmd, snap):
        # NLM_F_ECHO: the notification comes to the requester too (nlmsg_notify).
        return [("msg", cmd, snap)] if flags & NLM_F_ECHO else []

    def datagram(self, data):
        """What the kernel answers to one sendmsg, as netlink_rcv_skb walks it:
        ({seq: [answers]}, events, [(seq, what)] of the processed messages)."""
        answers, events, seen, off = {}, [], [], 0
        while len(data) - off >= 16:
            nlen, typ, flags, seq, _ = struct.unpack_from("=IHHII", data, off)
            if nlen < 16 or nlen > len(data) - off:
                break
            out, err, need, why = [], 0, False, ""
            if not flags & NLM_F_REQUEST or typ < NLMSG_MIN_TYPE:
                why = "not a request" if not flags & NLM_F_REQUEST else "control message"
            elif typ != self.id:
                err, why = E.ENOENT, "no such family"
            else:
                try:
                    # (A refusal changes nothing: genl() changes the table last.)
                    out, ev = self.genl(data[off:off + nlen], flags)
                    events += ev
                    self.version += len(ev)
                    why = "ok"
                except Fail as f:
                    err, need, why = f.err, f.msg, f.why
            if out[:1] and out[0][0] == "dump":
                pass                        # a dump ends with NLMSG_DONE, no ack
            elif flags & NLM_F_ACK or err:
                out = out + [("ack", err, need)]
            answers.setdefault(seq, []).extend(out)
            seen.append((seq, why))
            off += (nlen + 3) & ~3
        return answers, events, seen


# ---- sockets -----------------------------------------------------------------------------
class Sock:
    def __init__(self, groups=()):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, G.NETLINK_GENERIC)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.s.bind((0, 0))
        self.s.setsockopt(G.SOL_NETLINK, G.NETLINK_EXT_ACK, 1)
        self.s.setsockopt(G.SOL_NETLINK, G.NETLINK_CAP_ACK, 1)
        self.s.settimeout(5)
        self.seq = random.getrandbits(20) << 8

    def next(self):
        self.seq = (self.seq + 1) & 0xffffffff
        return self.seq

    def request(self, typ, body, flags=NLM_F_REQUEST | NLM_F_ACK):
        """One request; its answers (NLMSG_ERROR and DONE excluded) and errno (a dump's:
        the one in its NLMSG_DONE)."""
        seq = self.next()
        self.s.send(struct.pack("=IHHII", 16 + len(body), typ, flags, seq, 0) + body)
        out = []
        while True:
            for m in self.messages(self.s.recv(1 << 16)):
                if m[2] != seq:
                    continue
                if m[0] == NLMSG_DONE:
                    return out, -struct.unpack_from("=i", m[4])[0]
                if m[0] == NLMSG_ERROR:
                    return out, -struct.unpack_from("=i", m[4])[0]
                out.append(m)

    @staticmethod
    def messages(d):
        """[(type, flags, seq, pid, payload)] of a datagram."""
        out, i = [], 0
        while i + 16 <= len(d):
            n, t, f, sq, pid = struct.unpack_from("=IHHII", d, i)
            if n < 16:
                break
            out.append((t, f, sq, pid, d[i + 16:i + n]))
            i += (n + 3) & ~3
        return out


def family_info():
    """(SSNAT's id, its events group, every family id there is)."""
    s = Sock()
    out, err = s.request(G.GENL_ID_CTRL, struct.pack("=BBH", G.CTRL_CMD_GETFAMILY, 1, 0) +
                         G.nla(G.CTRL_ATTR_FAMILY_NAME, b"SSNAT\0"))
    if err:
        sys.exit("family SSNAT: %s" % os.strerror(err))
    a = G.attrs(out[0][4][4:])
    fid, grp = u16(a[G.CTRL_ATTR_FAMILY_ID]), None
    groups = a.get(CTRL_ATTR_MCAST_GROUPS, b"")
    for g in G.attrs(groups).values():
        ga = G.attrs(g)
        if ga.get(1, b"").rstrip(b"\0") == b"events":
            grp = u32(ga[2])
    out, err = s.request(G.GENL_ID_CTRL, struct.pack("=BBH", G.CTRL_CMD_GETFAMILY, 1, 0),
                         flags=NLM_F_REQUEST | NLM_F_DUMP)
    ids = {u16(G.attrs(m[4][4:])[G.CTRL_ATTR_FAMILY_ID]) for m in out}
    return fid, grp, ids


# ---- messages ------------------------------------------------------------------------------
MAPPINGS = []
MAPPINGS_OF = {}        # the pool by the family the mapping says


def mapping_attrs(r, fam=None):
    """The attributes of a mapping, from a pool made at the start (fresh ones now and
    then: making one costs more than the rest of a message in the guest); with fam,
    mostly one that says that family (an entry's must be its profile's)."""
    if len(MAPPINGS) < 150 or r.random() < 0.03:
        m = new_mapping(r)
        MAPPINGS.append(m)
        MAPPINGS_OF.setdefault(m[0][1][0], []).append(m)
    pool = MAPPINGS_OF.get(fam) if fam is not None and r.random() < 0.9 else None
    pool = pool or MAPPINGS
    return list(pool[int(r.random() * len(pool))])


def new_mapping(r):
    """The attributes of a mapping (FAMILY first): mostly one the rules accept, from
    rulefuzz's generator (and sometimes its mutations); one in eight of a profile of
    entries only (flags 0, and now and then an address or port it may not have)."""
    fam = r.choice([V4] * 5 + [V6] * 4)
    if r.random() < 0.12:
        n = addr_len(fam)
        out = [(FAMILY, bytes([fam])), (FLAGS, b"\0\0")]
        for t, zero in ((MIN_ADDR, bytes(n)), (MAX_ADDR, bytes(n)), (PREFIX_LEN, b"\0"), (MIN_PORT, b"\0\0"),
                        (MAX_PORT, b"\0\0")):
            if r.random() < 0.15:
                out.append((t, zero))
        if r.random() < 0.3:
            out.append((SEED, struct.pack("=I", r.getrandbits(32))))
        if r.random() < 0.3:
            t = r.choice([MIN_ADDR, MAX_ADDR, PREFIX_LEN, MIN_PORT, MAX_PORT])
            out = [a for a in out if a[0] != t]
            out.append((t, {MIN_ADDR: b"\1" * n, MAX_ADDR: b"\1" * n, PREFIX_LEN: b"\x18"}.get(t, b"\x01\x10")))
        return out
    while True:
        blob = bytearray(RF.gen_valid(r, fam))
        if not struct.unpack_from("<H", blob)[0] & RF.F_PROFILE:
            break
    if r.random() < 0.25:
        RF.mutate(r, blob, fam)
    i = RF.unpack(bytes(blob))
    if r.random() < 0.05:
        i["family"] = r.choice([0, 1, 7, 255, V4, V6])
    n = 16 if i["family"] == V6 else 4
    out = [(FAMILY, bytes([i["family"]])), (FLAGS, struct.pack("=H", i["flags"]))]
    if i["flags"] & RF.F_MAP_ADDR or any(i["mina"]) or r.random() < 0.05:
        out.append((MIN_ADDR, i["mina"][:n]))
        if i["maxa"] != i["mina"] or r.random() < 0.5:
            out.append((MAX_ADDR, i["maxa"][:n]))
    if i["plen"] or r.random() < 0.05:
        out.append((PREFIX_LEN, bytes([i["plen"]])))
    if i["minp"] or r.random() < 0.05:
        out.append((MIN_PORT, struct.pack("=H", i["minp"])))
    if i["maxp"] != i["minp"] or r.random() < 0.3:
        out.append((MAX_PORT, struct.pack("=H", i["maxp"])))
    if i["seed"] or r.random() < 0.1:
        out.append((SEED, struct.pack("=I", i["seed"])))
    return out


def name_attr(r, model, cmd):
    if r.random() < 0.05:
        return (NAME, r.choice([b"", b"a b\0", b"x/y\0", b"\xe9\0", b"n" * 32 + b"\0", b"n" * 40 + b"\0",
                                b"abc", b"ab\0cd\0", b"\0", b"p4\0junk"]))
    known = 0.2 if cmd == NEW else 0.9 if cmd in ENTRY_CMDS else 0.7
    names = list(model.table) if model.table and r.random() < known else POOL
    return (NAME, names[int(r.random() * len(names))] + b"\0")


def key_pool(fam):
    a, b = KEY_ADDRS[fam]
    icmp = 1 if fam == V4 else 58
    # (UDP first: half of the keys drawn are its)
    return [(17, a, 53), (17, a, 4000), (17, b, 53), (17, b, 65535),
            (6, a, 53), (6, b, 4000), (132, a, 9), (33, b, 9), (136, a, 53), (icmp, a, 0), (0, b, 0), (47, b, 0)]


KEY_ADDRS = {V4: [bytes([198, 51, 100, 1]), bytes([203, 0, 113, 9])],
             V6: [bytes.fromhex("20010db8000000000000000000000001"), bytes.fromhex("fe800000000000000000000000000009")]}
KEYS = {f: key_pool(f) for f in (V4, V6)}


def key_of(r, proto, addr, port):
    """The attributes of a key (PROTO left out for UDP, the default, and DST_PORT for
    port 0, now and then)."""
    out = [] if proto == 17 and r.random() < 0.5 else [(PROTO, bytes([proto]))]
    out.append((DST_ADDR, addr))
    if port or r.random() < 0.4:
        out.append((DST_PORT, struct.pack("=H", port)))
    return out


def key_attrs(r, fam):
    """The attributes of an entry key of family fam: mostly one of a small pool, or,
    one in six, a mutated one."""
    proto, addr, port = KEYS[fam][int(r.random() * 4) if r.random() < 0.4 else int(r.random() * 12)]
    if r.random() < 0.84:
        return key_of(r, proto, addr, port)
    m = r.choice(["alen", "alen", "other_family", "port0", "noport", "port_without_ports", "unknown_proto",
                  "unknown_proto_port", "noaddr", "long_addr", "fresh", "fresh", "sizes"])
    if m == "alen":
        addr = r.choice([b"", addr[:1], addr[:3], addr + b"\1", addr[:4] + bytes(4), addr[:15]])
    elif m == "other_family":
        addr = KEYS[V6 if fam == V4 else V4][0][1]
    elif m in ("port0", "noport"):
        proto, port = r.choice(PORT_PROTOS), 0
    elif m == "port_without_ports":
        proto, port = r.choice([1, 58, 0, 47, 255]), r.choice([7, 53, 65535])
    elif m == "unknown_proto":
        proto, port = r.choice([253, 254, 200, 143, 99]), 0
    elif m == "unknown_proto_port":
        proto, port = r.choice([253, 254, 200, 143, 99]), 80
    elif m == "long_addr":
        addr = addr + bytes(17 - len(addr) + r.choice([0, 3]))
    elif m == "fresh":
        addr, port = bytes(r.getrandbits(8) for _ in range(len(addr))), r.randint(1, 65535) if port else 0
    out = [(PROTO, bytes([proto]))]
    if m != "noaddr":
        out.append((DST_ADDR, addr))
    if m != "noport" and (port or m == "port0" or r.random() < 0.4):
        out.append((DST_PORT, struct.pack("=H", port)))
    if m == "sizes":
        k = r.randrange(len(out))
        out[k] = (out[k][0], out[k][1] + b"\0" if r.random() < 0.5 else out[k][1][:-1])
    r.shuffle(out)
    return out


def entry_attrs(r, model, cmd, name):
    """What follows the name in an entry request: the key (of the named profile's
    family, mostly), and for NEW and SET a mapping (mostly of that family too); now
    and then stray attributes (ignored)."""
    p = model.table.get(name[:-1])
    fam = p.info["family"] if p is not None and r.random() < 0.92 else r.choice([V4, V6])
    if cmd == ENTRY_FLUSH and r.random() < 0.9:
        attrs = []
    elif p is not None and p.entries and r.random() < (0.2 if cmd == ENTRY_NEW else 0.5):
        # One the profile has (the pool's keys miss more often than not).
        keys = list(p.entries)
        attrs = key_of(r, *keys[int(r.random() * len(keys))])
    else:
        attrs = key_attrs(r, fam)
    if cmd in (ENTRY_NEW, ENTRY_SET) or r.random() < 0.05:
        attrs += mapping_attrs(r, fam if r.random() < 0.95 else None)
        if r.random() < 0.3:
            r.shuffle(attrs)
    return attrs


def mutate_attrs(r, attrs):
    """Structural mutations of an attribute list: [(type, payload)] -> bytes."""
    attrs = list(attrs)
    head, tail = b"", b""
    for _ in range(r.choice([1, 1, 2, 3])):
        m = r.choice(["type", "nested_bit", "byteorder_bit", "short", "long", "empty", "dup", "drop", "kernel_only",
                      "wrap", "stats", "lying_len", "trailing", "huge", "unknown", "zero_type"])
        k = r.randrange(len(attrs)) if attrs else None
        if m == "type" and attrs:
            attrs[k] = (r.choice([0, 13, 14, 16, 17, 99, 0x3fff, r.randint(0, 20)]), attrs[k][1])
        elif m == "nested_bit" and attrs:
            attrs[k] = (attrs[k][0] | NLA_F_NESTED, attrs[k][1])
        elif m == "byteorder_bit" and attrs:
            attrs[k] = (attrs[k][0] | NLA_F_NET_BYTEORDER, attrs[k][1])
        elif m == "short" and attrs and attrs[k][1]:
            attrs[k] = (attrs[k][0], attrs[k][1][:r.randrange(len(attrs[k][1]))])
        elif m == "long" and attrs:
            attrs[k] = (attrs[k][0], attrs[k][1] + r.randbytes(r.choice([1, 2, 3, 5, 8, 13, 64])))
        elif m == "empty" and attrs:
            attrs[k] = (attrs[k][0], b"")
        elif m == "dup" and attrs:
            attrs.insert(r.randrange(len(attrs) + 1), attrs[k])
        elif m == "drop" and attrs:
            del attrs[k]
        elif m == "kernel_only":
            attrs.append((r.choice([RULES, STATS, PAD, ENTRIES]), r.randbytes(r.choice([0, 4, 8]))))
        elif m == "wrap" and attrs:
            # Nested where the policy wants flat attributes.
            j = r.randrange(k, len(attrs)) + 1
            inner = b"".join(G.nla(t, d) for t, d in attrs[k:j])
            attrs[k:j] = [(r.choice([NAME, FLAGS, MIN_ADDR, SEED, DST_ADDR, r.randint(1, MAXATTR)]) | NLA_F_NESTED, inner)]
        elif m == "stats":
            inner = b"".join(G.nla(i, struct.pack("=Q", 0)) for i in range(1, 10))
            attrs.append((STATS | (NLA_F_NESTED if r.random() < 0.5 else 0), inner))
        elif m == "lying_len":
            tail = struct.pack("=HH", r.choice([2, 3, 200, 0xffff]), r.randint(1, MAXATTR)) + r.randbytes(r.randint(0, 8))
        elif m == "trailing":
            tail = r.randbytes(r.randint(1, 3))
        elif m == "huge":
            # An oversized request: many attributes (the last of each kind wins), or
            # one attribute of kilobytes.
            if r.random() < 0.5:
                head += G.nla(r.choice([SEED, FLAGS, PREFIX_LEN, PROTO, DST_PORT]), r.randbytes(r.choice([1, 2, 4]))) * r.randint(50, 250)
            else:
                attrs.insert(r.randrange(len(attrs) + 1), (r.choice([NAME, MIN_ADDR, DST_ADDR, 0x3ff0, SEED]),
                                                           bytes(r.choice([1000, 4000, 30000]))))
        elif m == "unknown":
            attrs.insert(r.randrange(len(attrs) + 1), (r.choice([r.randint(13, 20), r.randint(17, 0x3fff)]),
                                                       r.randbytes(r.randint(0, 9))))
        elif m == "zero_type":
            attrs.insert(r.randrange(len(attrs) + 1), (0, r.randbytes(r.randint(0, 4))))
    return head + b"".join(G.nla(t, d) for t, d in attrs) + tail


# (Entry requests a little more than half: profiles are deleted and flushed seldom
# enough that their entries reach max_entries.)
CMD_MIX = [NEW] * 6 + [SET] * 5 + [DEL] * 2 + [GET] * 3 + \
    [ENTRY_NEW] * 9 + [ENTRY_SET] * 6 + [ENTRY_DEL] * 4 + [ENTRY_GET] * 4 + [ENTRY_FLUSH]
ODD_FLAGS = [NLM_F_ROOT, NLM_F_MATCH, NLM_F_CREATE, NLM_F_APPEND, NLM_F_MULTI, NLM_F_DUMP_INTR, 0x20, 0x1000, 0x8000]


BODIES = {True: [], False: []}


def rest_of_body(r, mapping):
    """What follows the name: a mapping's attributes (or nothing, or stray ones), now
    and then mutated; from a pool that keeps growing (3% fresh)."""
    pool = BODIES[mapping]
    if len(pool) < 150 or r.random() < 0.03:
        attrs = new_mapping(r) if mapping else []
        r.shuffle(attrs)
        pool.append(mutate_attrs(r, attrs) if r.random() < 0.35 or (not mapping and r.random() < 0.3)
                    else b"".join(map(nla_cached, attrs)))
    return pool[int(r.random() * len(pool))]


def gen_body(r, model):
    """(cmd, flags, attribute bytes) of one request."""
    cmd = CMD_MIX[int(r.random() * len(CMD_MIX))]
    dump = cmd in DUMPS and r.random() < 0.3
    whole = r.random() < 0.1      # a message made and mutated whole, the name included
    # (A profile dump needs no name; an entry dump does.)
    attrs = [name_attr(r, model, cmd)] if not dump or r.random() < (0.9 if cmd == ENTRY_GET else 0.2) else []
    if whole and cmd in (NEW, SET):
        attrs += mapping_attrs(r)
        r.shuffle(attrs)
    elif whole and cmd in ENTRY_CMDS:
        attrs += entry_attrs(r, model, cmd, attrs[0][1] if attrs else b"")
        r.shuffle(attrs)
    flags = NLM_F_REQUEST | NLM_F_ACK
    x = r.random()
    if x < 0.1:
        flags = NLM_F_REQUEST
    elif x < 0.15:
        flags |= NLM_F_ECHO
    elif x < 0.2:
        flags = r.choice([NLM_F_ACK, 0, NLM_F_REQUEST | NLM_F_ACK | r.choice(ODD_FLAGS)])
    elif x < 0.23 and not dump:
        flags |= NLM_F_DUMP       # NLM_F_DUMP on NEW/SET/DEL..., or a GET dump by name
    if dump:
        flags = NLM_F_REQUEST | NLM_F_DUMP | (NLM_F_ACK if r.random() < 0.5 else 0)
    if r.random() < 0.03:
        cmd = r.choice([0, 10, 11, 99, 255, r.randint(0, 255)])
    if whole:
        body = mutate_attrs(r, attrs)
    elif cmd in ENTRY_CMDS:
        rest = entry_attrs(r, model, cmd, attrs[0][1] if attrs else b"")
        body = b"".join(map(nla_cached, attrs + rest)) if r.random() < 0.92 else \
            b"".join(map(nla_cached, attrs)) + mutate_attrs(r, rest)
    else:
        body = b"".join(map(nla_cached, attrs)) + rest_of_body(r, cmd in (NEW, SET))
    return cmd, flags, body


NLA_CACHE = {}


def nla_cached(a):
    """G.nla of an attribute, remembered (the mappings come from a pool)."""
    b = NLA_CACHE.get(a)
    if b is None:
        if len(NLA_CACHE) > 20000:
            NLA_CACHE.clear()
        b = NLA_CACHE[a] = G.nla(*a)
    return b


class Gen:
    def __init__(self, r, model, foreign):
        self.r, self.model, self.foreign = r, model, foreign

    def datagram(self, sock):
        """(bytes, number of messages made) for one sendmsg: 1-4 messages, a dump only
        last, lying lengths only in the last."""
        r = self.r
        parts, made = [], r.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        for k in range(made):
            cmd, flags, body = gen_body(r, self.model)
            if flags & NLM_F_DUMP == NLM_F_DUMP and k < made - 1:
                flags &= ~NLM_F_DUMP
            typ, version, reserved = self.model.id, 1, 0
            x = r.random()
            if x < 0.02:
                typ = r.choice([NLMSG_NOOP, 0x0f, 0xfffe])
            elif x < 0.04:
                version = r.randint(0, 255)
            elif x < 0.05:
                reserved = r.randint(1, 0xffff)
            payload = struct.pack("=BBH", cmd, version, reserved) + body
            nlen = 16 + len(payload)
            if r.random() < 0.03:
                payload, nlen = payload[:r.randint(0, 3)], None     # shorter than genlmsghdr
            msg = struct.pack("=IHHII", 16 + len(payload) if nlen is None else nlen, typ, flags, sock.next(), 0) + payload
            parts.append(msg + bytes(-len(msg) % 4))
        data = b"".join(parts)
        if r.random() < 0.05:
            # The last message lies about its length: past the end, or short of it.
            last = len(data) - len(parts[-1])
            real = struct.unpack_from("=I", data, last)[0]
            lie = r.choice([real + r.randint(1, 64), r.randint(16, max(16, real - 1)), r.randint(0, 15)])
            data = data[:last] + struct.pack("=I", lie) + data[last + 4:]
        return data, made

    def safe(self, data):
        """Whether every message netlink_rcv_skb would process is for a family the model
        knows (garbage a lie exposes could name another family), and a dump comes only
        last (the model has its rounds see one state)."""
        off, dumped = 0, False
        while len(data) - off >= 16:
            nlen, typ, flags = struct.unpack_from("=IHH", data, off)
            if nlen < 16 or nlen > len(data) - off:
                return True
            if flags & NLM_F_REQUEST and typ >= NLMSG_MIN_TYPE:
                if dumped or (typ != self.model.id and typ in self.foreign):
                    return False
                dumped = typ == self.model.id and flags & NLM_F_DUMP == NLM_F_DUMP
            off += (nlen + 3) & ~3
        return True


# ---- the run -------------------------------------------------------------------------------
class Fuzz:
    def __init__(self, seed, model, foreign, group, mode):
        self.r = random.Random(seed)
        self.model, self.mode = model, mode
        self.gen = Gen(self.r, model, foreign)
        self.sock = Sock()
        self.check = Sock() if model.priv else None
        self.events = None
        if model.priv and group is not None:
            self.events = Sock()
            self.events.s.setsockopt(G.SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
            self.events.s.setblocking(False)
        self.n = dict(messages=0, datagrams=0, ok=0, refused=0, dumps=0, echo=0, rule_steps=0, rule_ok=0,
                      entry_dumps=0, entry_events=0)
        self.errs = {}
        self.bad = []
        self.last_raw, self.last_version = None, None
        self.turn = 0                   # the profile whose entries are checked next in turn
        self.t = {}

    def mismatch(self, what, data=b""):
        self.bad.append("MISMATCH %s: %s%s" % (self.mode, what, (" datagram=" + data.hex()[:400]) if data else ""))

    def answers(self, data, want):
        """Sends data, then a fence: a dump of the table on the same socket (which
        also checks it), or a NOOP with NLM_F_ACK when the datagram dumps itself (one
        dump at a time per socket) or the requester may not read. Returns
        ({seq: [answers]}, the fence dump's raw messages or None)."""
        s = self.sock
        s.s.send(data)
        fence = s.next()
        dumps = {q for q, a in want.items() if any(x[0] == "dump" for x in a)}
        by_dump = self.check is not None and not dumps
        if by_dump:
            s.s.send(struct.pack("=IHHII", 20, self.model.id, NLM_F_REQUEST | NLM_F_DUMP, fence, 0) +
                     struct.pack("=BBH", GET, 1, 0))
        else:
            s.s.send(struct.pack("=IHHII", 16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, fence, 0))
        got, fenced, pending, table = {}, False, {}, []
        # (A dump goes on as its reader reads: wait for the end of every one begun.)
        while not fenced or dumps or pending:
            try:
                d = s.s.recv(1 << 16)
            except socket.timeout:
                self.mismatch("no answer (dumps pending: %s)" % sorted(dumps), data)
                break
            for t, f, sq, _, p in Sock.messages(d):
                if sq == fence:
                    if t == NLMSG_ERROR or t == NLMSG_DONE:
                        fenced = True
                        if struct.unpack_from("=i", p)[0]:
                            table = None     # (the fence dump was refused: a dump still runs)
                    elif table is not None:
                        table.append(p)
                    continue
                if t == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", p)[0]
                    tlv = G.attrs(p[20:]) if f & NLM_F_ACK_TLVS else {}
                    msg = tlv.get(G.NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode(errors="replace")
                    got.setdefault(sq, []).append(("ack", err, msg))
                elif t == NLMSG_DONE:
                    # (An error of the dump's first round comes here, not in an ack.)
                    tlv = G.attrs(p[4:]) if f & NLM_F_ACK_TLVS else {}
                    msg = tlv.get(G.NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode(errors="replace")
                    got.setdefault(sq, []).append(("dump", pending.pop(sq, []), f, -struct.unpack_from("=i", p)[0], msg))
                    dumps.discard(sq)
                elif f & NLM_F_MULTI:
                    pending.setdefault(sq, []).append((p[0], snap_of(p[4:], p[0]), f))
                else:
                    got.setdefault(sq, []).append(("msg", p[0], snap_of(p[4:], p[0])))
        return got, (table if by_dump else None)

    def compare(self, data, want, got, seen):
        for sq in sorted(set(want) | set(got)):
            w, g = want.get(sq, []), got.get(sq, [])
            ok = len(w) == len(g)
            for a, b in zip(w, g):
                if a[0] != b[0]:
                    ok = False
                elif a[0] == "ack":
                    if a[1] != b[1] or (a[1] and a[2] and not b[2]):
                        ok = False
                    self.tally(b[1], b[2])
                elif a[0] == "msg":
                    ok = ok and a[1:] == b[1:]
                    self.n["echo"] += 1
                elif a[0] == "dump":
                    # (Profiles in any order; a profile's entries in the order added.)
                    snaps = [x[1] for x in b[1]]
                    ordered, want_cmd = (True, ENTRY_GET) if a[3] else (False, GET)
                    ok = ok and (snaps == a[1] if ordered else sorted(snaps) == sorted(a[1])) and b[3] == a[2] and all(
                        x[0] == want_cmd and not x[2] & NLM_F_DUMP_INTR for x in b[1])
                    self.tally(b[3], b[4], " (dump)")
                    self.n["dumps"] += 1
            if not ok:
                why = [y for q, y in seen if q == sq]
                self.mismatch("seq %d (%s): expected %s, got %s" % (sq, "; ".join(why), self.show(w), self.show(g)), data)

    def tally(self, err, msg, where=""):
        """Counts refusals by errno, with an extended-ack message or without."""
        if not err:
            return
        k = (errno.errorcode.get(err, str(err)) + where, bool(msg))
        self.errs[k] = self.errs.get(k, 0) + 1

    @staticmethod
    def show(lst):
        out = []
        for a in lst:
            if a[0] == "ack":
                out.append("ack %s%s" % (errno.errorcode.get(a[1], a[1]) if a[1] else "0",
                                         (" '%s'" % a[2]) if isinstance(a[2], str) and a[2] else ""))
            elif a[0] == "msg":
                out.append("%s %s" % (CMDS.get(a[1], a[1]), a[2]))
            else:
                e = a[2] if len(a) == 4 else a[3]
                out.append("dump of %d%s%s" % (len(a[1]), " ending %s" % errno.errorcode.get(e, e) if e else "",
                                               (": %s" % [x[1] for x in a[1]]) if len(a) == 4 and a[3] else ""))
        return "[" + ", ".join(out) + "]"

    def verify(self, data, events, table=None, full=False):
        """The table as a dump shows it (table: one made already), the entries of the
        profiles that entry requests named since the last check and of one more in
        turn (with full: of every profile), and the events since the last step."""
        if self.check:
            err = 0
            if table is None:
                out, err = self.check.request(self.model.id, struct.pack("=BBH", GET, 1, 0), NLM_F_REQUEST | NLM_F_DUMP)
                table = [m[4] for m in out]
            out = [(None, None, None, None, p) for p in table]
            raw = b"".join(table)
            # Unchanged in the model and byte for byte in the kernel: no need to parse.
            if err or raw != self.last_raw or self.model.version != self.last_version:
                have = sorted(snap_of(m[4][4:]) for m in out)
                if err or have != sorted(self.model.dump()):
                    self.mismatch("table %s, model %s (dump error %s)" % (have, sorted(self.model.dump()), err), data)
                    self.resync(have)
                self.last_raw, self.last_version = raw, self.model.version
            self.verify_entries(data, full)
        if self.events:
            got = []
            while True:
                try:
                    d = self.events.s.recv(1 << 16)
                except BlockingIOError:
                    break
                except OSError as e:
                    self.mismatch("events socket: %s" % e)
                    break
                got += [(p[0], snap_of(p[4:], p[0])) for _, _, _, _, p in Sock.messages(d)]
            if got != events:
                self.mismatch("events %s, expected %s" % (got, events), data)
            self.n["entry_events"] += sum(1 for e in got if e[0] in ENTRY_CMDS)

    def entry_dump(self, name):
        """A dump of profile name's entries: (snaps, errno, whether a message was not an
        ENTRY_GET or had NLM_F_DUMP_INTR)."""
        out, err = self.check.request(self.model.id, struct.pack("=BBH", ENTRY_GET, 1, 0) + G.nla(NAME, name + b"\0"),
                                      NLM_F_REQUEST | NLM_F_DUMP)
        self.n["entry_dumps"] += 1
        return ([snap_of(m[4][4:], m[4][0]) for m in out], err,
                any(m[4][0] != ENTRY_GET or m[1] & NLM_F_DUMP_INTR for m in out))

    def verify_entries(self, data, full=False):
        """Dumps of entries, compared with the model's (those of a profile the model
        has none of only with full: the table's ENTRIES said 0)."""
        table = self.model.table
        names = [n for n in self.model.touched if n in table]
        self.model.touched = set()
        if full:
            names = list(table)
        elif table:
            self.turn = (self.turn + 1) % len(table)
            other = list(table)[self.turn]
            if other not in names:
                names.append(other)
        for name in names:
            p = table[name]
            if not p.entries and not full:
                continue
            have, err, odd = self.entry_dump(name)
            if err or odd or have != p.edump():
                self.mismatch("entries of %s: %s, model %s (dump error %s%s)" % (
                    name.decode(), have, p.edump(), err, ", odd flags or command" if odd else ""), data)
                self.resync_entries(p, have)

    def resync(self, have):
        """After a mismatch, the model follows the kernel (so one bug is reported once)."""
        old = self.model.table
        self.model.table = {}
        self.model.version += 1
        for s in have:
            if s[0] == "malformed":
                continue
            n = len(s[3])
            p = Profile(s[0], dict(family=s[1], flags=s[2], mina=s[3] + bytes(16 - n), maxa=s[4] + bytes(16 - n),
                                   plen=s[5], minp=s[6], maxp=s[7], seed=s[8], reserved=0))
            p.rules = s[9]
            if s[0] in old:
                p.entries = old[s[0]].entries
            self.model.table[s[0]] = p
            if len(p.entries) != s[10]:
                self.resync_entries(p, self.entry_dump(s[0])[0])

    @staticmethod
    def resync_entries(p, have):
        p.entries = {}
        for s in have:
            if s[0] == "malformed":
                continue
            n = len(s[6])
            p.entries[s[1:4]] = dict(family=s[4], flags=s[5], mina=s[6] + bytes(16 - n), maxa=s[7] + bytes(16 - n),
                                     plen=s[8], minp=s[9], maxp=s[10], seed=s[11], reserved=0)

    def step(self):
        t0 = time.time()
        while True:
            data, made = self.gen.datagram(self.sock)
            if self.gen.safe(data):
                break
        want, events, seen = self.model.datagram(data)
        t1 = time.time()
        got, table = self.answers(data, want)
        t2 = time.time()
        self.n["messages"] += made
        self.n["datagrams"] += 1
        for sq, why in seen:
            self.n["ok" if why == "ok" else "refused"] += 1
        self.compare(data, want, got, seen)
        self.verify(data, events, table)
        t3 = time.time()
        for k, v in (("model", t1 - t0), ("kernel", t2 - t1), ("check", t3 - t2)):
            self.t[k] = self.t.get(k, 0) + v

    def run(self, count, rules=None):
        t0 = time.time()
        if self.check:
            self.verify(b"", [])        # from the start: what the model says (empty)
        next_note = 0
        while self.n["messages"] < count:
            if self.n["messages"] >= next_note:
                print("# %s: %d messages at %.1fs" % (self.mode, self.n["messages"], time.time() - t0), flush=True)
                next_note += max(1000, count // 10)
            self.step()
            if rules and self.r.random() < rules.rate:
                t = time.time()
                rules.step(self)
                self.t["rules"] = self.t.get("rules", 0) + time.time() - t
        return time.time() - t0

    def delete_all(self):
        """DEL of every profile left (none in use any more, and with its entries:
        checked all first), announced as such."""
        self.verify(b"at the end", [], full=True)
        events = []
        for name, p in list(self.model.table.items()):
            err = self.sock.request(self.model.id, struct.pack("=BBH", DEL, 1, 0) + G.nla(NAME, name + b"\0"))[1]
            if err:
                self.mismatch("DEL %s at the end: %s" % (name.decode(), os.strerror(err)))
            events.append((DEL, p.snap()))
            del self.model.table[name]
            self.model.version += 1
        self.verify(b"end", events)

    def summary(self):
        e = ", ".join("%s %s %d" % (k[0], "with message" if k[1] else "without", v) for k, v in sorted(self.errs.items()))
        t = " ".join("%s %.1fs" % kv for kv in sorted(self.t.items()))
        return ("%(mode)s: messages %(messages)d datagrams %(datagrams)d processed-ok %(ok)d refused %(refused)d "
                "dumps %(dumps)d entry-checks %(entry_dumps)d entry-events %(entry_events)d replies %(echo)d rule-steps %(rule_steps)d (%(rule_ok)d applied)" %
                dict(self.n, mode=self.mode)) + "; errors: " + e + "; time " + t


class Rules:
    """Rule steps, each all or nothing: either the legacy raw table's OUTPUT chain
    replaced whole with this step's set of '-p udp -j SSNAT --profile NAME' rules
    (IPT_SO_SET_REPLACE from here: no process to start), or, one step in `tool`, -A/-D
    of such rules in mangle OUTPUT through one IPT-restore --noflush (the real tools,
    legacy or nft)."""

    def __init__(self, ipt, rate, tool=6):
        self.ipt, self.rate, self.tool = ipt, rate, tool
        self.nft = "nft" in ipt
        self.raw = {4: [], 6: []}       # names, in table order
        self.mangle = {4: [], 6: []}
        self.legacy = {f: RF.Legacy(f, RF.Netns(None)) for f in (4, 6)}

    def spec(self, name):
        return "OUTPUT -p udp --dport 9 -j SSNAT --profile %s" % name.decode()

    def restore(self, fam, ops):
        ipt = self.ipt.replace("iptables", "ip6tables") if fam == 6 else self.ipt
        text = "*mangle\n" + "".join(o + "\n" for o in ops) + "COMMIT\n"
        return ipt, subprocess.run([ipt + "-restore", "--noflush"], input=text.encode(), capture_output=True)

    def replace(self, fam, names):
        nfp = RF.NFPROTO_IPV4 if fam == 4 else RF.NFPROTO_IPV6
        lg = self.legacy[fam]
        rules = [(RF.HOOK_OUT, lg.entry(RF.xt_target(b"SSNAT", 0, RF.pack(RF.F_PROFILE, nfp, prof=n)), 17))
                 for n in names]
        return lg.replace("raw", rules)

    def settle(self, fz):
        """iptables-nft's rules go away asynchronously: wait for the counts to drop."""
        for _ in range(100 if self.nft else 1):
            out, err = fz.check.request(fz.model.id, struct.pack("=BBH", GET, 1, 0), NLM_F_REQUEST | NLM_F_DUMP)
            if sorted(snap_of(m[4][4:]) for m in out) == sorted(fz.model.dump()):
                return
            time.sleep(0.03)

    def step(self, fz):
        r, model = fz.r, fz.model
        fam = r.choice([4, 6])
        nfp = RF.NFPROTO_IPV4 if fam == 4 else RF.NFPROTO_IPV6
        tool = r.randrange(self.tool) == 0
        have = (self.mangle if tool else self.raw)[fam]
        keep, adds, rms, want = list(have), [], [], 0
        for _ in range(r.choice([1, 1, 2, 3])):
            if keep and (r.random() < 0.45 or len(keep) + len(adds) >= 6):
                rms.append(keep.pop(r.randrange(len(keep))))
            else:
                good = [n for n, p in model.table.items() if p.info["family"] == nfp]
                name = r.choice(good) if good and r.random() < 0.75 else r.choice(POOL)
                p = model.table.get(name)
                # checkentry: ENOENT for a missing profile, EINVAL for the other family.
                if not want and (p is None or p.info["family"] != nfp):
                    want = E.ENOENT if p is None else E.EINVAL
                adds.append(name)
        fz.n["rule_steps"] += 1
        if tool:
            ops = ["-D " + self.spec(n) for n in rms] + ["-A " + self.spec(n) for n in adds]
            ipt, res = self.restore(fam, ops)
            got, what = (0 if res.returncode == 0 else -1), "%s-restore %s" % (ipt, ops)
            detail = res.stderr.decode().strip()[:200]
            ok = (got == 0) == (want == 0)
        else:
            got = self.replace(fam, keep + adds)
            what, detail = "raw table of %s + %s - %s" % (keep, adds, rms), ""
            ok = got == want
        if not ok:
            fz.mismatch("%s: %s (%s), expected %s" % (what, errno.errorcode.get(got, got) if got else "success",
                                                      detail, errno.errorcode.get(want, "success")))
        if got == 0:
            fz.n["rule_ok"] += 1
            for n in rms:
                model.table[n].rules -= 1
            for n in adds:
                model.table[n].rules += 1
            have[:] = keep + adds
            model.version += 1
        if tool and rms:
            self.settle(fz)
        fz.verify(what.encode(), [])

    def clear(self, fz):
        for fam in (4, 6):
            if self.raw[fam]:
                err = self.replace(fam, [])
                if err:
                    fz.mismatch("emptying the raw table: %s" % os.strerror(err))
            if self.mangle[fam]:
                ipt, res = self.restore(fam, ["-D " + self.spec(n) for n in self.mangle[fam]])
                if res.returncode:
                    fz.mismatch("removing the rules: %s" % res.stderr.decode().strip()[:200])
            for n in self.raw[fam] + self.mangle[fam]:
                if n in fz.model.table:  # (gone only after a mismatch, already reported)
                    fz.model.table[n].rules -= 1
            self.raw[fam], self.mangle[fam] = [], []
            fz.model.version += 1
        self.settle(fz)


PARAMS = "/sys/module/xt_SSNAT/parameters/"


def read_param(name):
    """Module parameter max_profiles or max_entries, or None if the module has none."""
    try:
        with open(PARAMS + name) as f:
            return int(f.read())
    except OSError:
        return None


def write_param(name, value):
    with open(PARAMS + name, "w") as f:
        f.write(str(value))


CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def become(mode):
    """What `setpriv --reuid=65534 --regid=65534 --clear-groups` (and, for userns,
    `unshare --user --map-root-user --net` after it) make of this process: uid and gid
    65534, no groups, no capabilities; then root of a new user namespace, which owns a
    new network namespace. (Forked, not started anew: starting Python and importing
    this costs many seconds in the guest.)"""
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    # (A process that changed its credentials is not dumpable, and its /proc/self
    # files stay root's: as after an exec, it is again, for the maps below.)
    RF.libc.prctl(4, 1, 0, 0, 0)          # PR_SET_DUMPABLE
    caps = {l.split(":")[0]: int(l.split()[1], 16) for l in open("/proc/self/status") if l.startswith("Cap")}
    if caps["CapEff"] or caps["CapPrm"] or caps["CapAmb"]:
        raise SystemExit("still capable after setresuid: %s" % caps)
    if mode == "userns":
        if RF.libc.unshare(CLONE_NEWUSER | CLONE_NEWNET):
            raise OSError(RF.ctypes.get_errno(), "unshare(CLONE_NEWUSER | CLONE_NEWNET)")
        for f, text in (("setgroups", "deny"), ("uid_map", "0 65534 1"), ("gid_map", "0 65534 1")):
            with open("/proc/self/" + f, "w") as fd:
                fd.write(text)


def child(mode, count, seed, cap, ecap):
    """An unprivileged requester (mode unpriv: everything EPERM) or one in its own user
    and network namespace (mode userns: its own empty table, which it may manage), in
    a child process: returns (status, lines of output)."""
    sys.stdout.flush()
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        status, out = 1, []
        try:
            os.close(rd)
            become(mode)
            fid, grp, ids = family_info()
            model = Model(fid, mode == "userns", cap, ecap)
            fz = Fuzz(seed, model, ids - {fid}, grp, mode)
            secs = fz.run(count)
            if mode == "userns":
                fz.delete_all()
            out = fz.bad[:20] + ["%s seconds %.1f mismatches %d" % (fz.summary(), secs, len(fz.bad))]
            status = 1 if fz.bad else 0
        except BaseException as e:       # noqa: B902 (whatever it is, the parent says it)
            import traceback
            out.append("%s child: %s" % (mode, "".join(traceback.format_exception(e)).strip()))
        finally:
            os.write(wr, "\n".join(out).encode())
            os._exit(status)
    os.close(wr)
    text = b""
    while True:
        chunk = os.read(rd, 1 << 16)
        if not chunk:
            break
        text += chunk
    os.close(rd)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st), text.decode(errors="replace").splitlines()


def main():
    a = sys.argv[1:]
    count = int(a.pop(0))
    opt = {"seed": str(int(time.time()) & 0xffff), "ipt": "iptables-legacy", "unpriv": "1000", "userns": "1000",
           "cap": "", "entry_cap": "4", "rule_rate": "0.015", "watchdog": "1200"}
    while a:
        k = a.pop(0)
        opt[k[2:].replace("-", "_")] = a.pop(0)
    seed = int(opt["seed"])
    # A hang shows where it is (every thread's stack on stderr), and ends the run.
    faulthandler.dump_traceback_later(float(opt["watchdog"]), exit=True)
    t_start = time.time()
    fid, grp, ids = family_info()
    # The limits, set for the run (and restored after) if asked for and the module has them.
    limits = {}
    for param, key in (("max_profiles", "cap"), ("max_entries", "entry_cap")):
        old = read_param(param)
        limits[param] = [old, old]
        if opt[key] not in ("", "keep") and old is not None:
            limits[param][1] = int(opt[key])
            write_param(param, int(opt[key]))
    cap, ecap = limits["max_profiles"][1], limits["max_entries"][1]
    model = Model(fid, True, cap, ecap)
    fz = Fuzz(seed, model, ids - {fid}, grp, "root")
    rules = Rules(opt["ipt"], float(opt["rule_rate"]))
    lines, status = [], 0
    try:
        secs = fz.run(count, rules)
        if not model.table:
            # Something here for the others not to see.
            body = b"".join(G.nla(t, d) for t, d in [(NAME, b"keep\0"), (FAMILY, b"\x02"), (FLAGS, b"\x01\x00"),
                                                     (MIN_ADDR, bytes([192, 0, 2, 1]))])
            data = struct.pack("=IHHII", 20 + len(body), fid, NLM_F_REQUEST | NLM_F_ACK, fz.sock.next(), 0) + \
                struct.pack("=BBH", NEW, 1, 0) + body
            want, events, seen = model.datagram(data)
            got, table = fz.answers(data, want)
            fz.compare(data, want, got, seen)
            fz.verify(data, events, table)
        if model.table and not any(p.entries for p in model.table.values()):
            # And an entry of it.
            name = next(iter(model.table))
            fam = model.table[name].info["family"]
            body = b"".join(G.nla(t, d) for t, d in [(NAME, name + b"\0"), (DST_ADDR, KEYS[fam][0][1]),
                                                     (DST_PORT, struct.pack("=H", 53)), (FAMILY, bytes([fam])),
                                                     (FLAGS, b"\x02\x00"), (MIN_PORT, b"\x01\x10")])
            data = struct.pack("=IHHII", 20 + len(body), fid, NLM_F_REQUEST | NLM_F_ACK, fz.sock.next(), 0) + \
                struct.pack("=BBH", ENTRY_NEW, 1, 0) + body
            want, events, seen = model.datagram(data)
            got, table = fz.answers(data, want)
            fz.compare(data, want, got, seen)
            fz.verify(data, events, table)
        before = sorted(model.dump())
        before_entries = {n: p.edump() for n, p in model.table.items()}
        # Others: they must change nothing here, and announce nothing here.
        for mode, k in (("unpriv", int(opt["unpriv"])), ("userns", int(opt["userns"]))):
            if not k:
                continue
            code, out = child(mode, k, seed + len(mode), cap, ecap)
            lines += out
            if code or not out or "mismatches 0" not in out[-1]:
                status = 1
            fz.verify(b"", [], full=True)
            if sorted(model.dump()) != before or {n: p.edump() for n, p in model.table.items()} != before_entries:
                fz.mismatch("%s changed this namespace's profiles or entries" % mode)
        # Leave nothing behind.
        rules.clear(fz)
        fz.delete_all()
    finally:
        for param, (old, now) in limits.items():
            if now != old:
                write_param(param, old)
    for line in fz.bad[:40]:
        print(line)
    if len(fz.bad) > 40:
        print("... and %d more" % (len(fz.bad) - 40))
    for line in lines:
        print(line)
    print("cap %s entry-cap %s seed %d; %.1fs from the first request to the last" % (cap, ecap, seed,
                                                                                    time.time() - t_start))
    print("%s seconds %.1f mismatches %d" % (fz.summary(), secs, len(fz.bad)))
    sys.exit(1 if fz.bad or status else 0)


def selftest():
    """The model on hand-made requests whose answers module/profiles.rs states, and the
    generator and model on many random datagrams (offline: no kernel needed)."""
    m = Model(0x20, True, 3, 2)
    seq = [0]

    def req(cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK):
        seq[0] += 1
        body = struct.pack("=BBH", cmd, 1, 0) + b"".join(G.nla(t, d) for t, d in attrs)
        want, events, _ = m.datagram(struct.pack("=IHHII", 16 + len(body), m.id, flags, seq[0], 0) + body)
        return want[seq[0]], events

    def nm(n):
        return (NAME, n + b"\0")

    a4, a6 = KEYS[V4][0][1], KEYS[V6][0][1]
    only4 = [(FAMILY, b"\x02"), (FLAGS, b"\0\0")]
    port = [(FAMILY, b"\x02"), (FLAGS, struct.pack("=H", RF.F_MAP_PORT)), (MIN_PORT, struct.pack("=H", 4000))]
    port6 = [(FAMILY, b"\x0a")] + port[1:]
    key = [(DST_ADDR, a4), (DST_PORT, struct.pack("=H", 53))]
    ack = [("ack", 0, False)]
    e = E
    cases = [
        ("entries-only profile", NEW, [nm(b"p")] + only4 + [(SEED, b"\1\2\3\4"), (MIN_PORT, b"\0\0")], ack, 1),
        ("entries-only with a port", NEW, [nm(b"q")] + only4 + [(MIN_PORT, b"\1\0")], [("ack", e.EINVAL, True)], 0),
        ("entries-only with an address", SET, [nm(b"p")] + only4 + [(MIN_ADDR, b"\0\0\0\1")],
         [("ack", e.EINVAL, True)], 0),
        ("entry, flags 0", ENTRY_NEW, [nm(b"p")] + key + only4, [("ack", e.EINVAL, True)], 0),
        ("entry of the other family", ENTRY_NEW, [nm(b"p")] + key + port6, [("ack", e.EINVAL, True)], 0),
        ("entry, v6 address", ENTRY_NEW, [nm(b"p"), (DST_ADDR, a6)] + key[1:] + port, [("ack", e.EINVAL, True)], 0),
        ("entry, UDP port 0", ENTRY_NEW, [nm(b"p"), (DST_ADDR, a4), (DST_PORT, b"\0\0")] + port,
         [("ack", e.EINVAL, True)], 0),
        ("entry, UDP no port", ENTRY_NEW, [nm(b"p"), (DST_ADDR, a4)] + port, [("ack", e.EINVAL, True)], 0),
        ("entry, ICMP port", ENTRY_NEW, [nm(b"p"), (PROTO, b"\1"), (DST_ADDR, a4), (DST_PORT, b"\7\0")] + port,
         [("ack", e.EINVAL, True)], 0),
        ("entry of no profile", ENTRY_NEW, [nm(b"zz")] + key + port, [("ack", e.ENOENT, True)], 0),
        ("entry", ENTRY_NEW, [nm(b"p")] + key + port, ack, 1),
        ("entry again", ENTRY_NEW, [nm(b"p")] + key + port, [("ack", e.EEXIST, True)], 0),
        ("entry again, bad mapping first", ENTRY_NEW, [nm(b"p")] + key + only4, [("ack", e.EINVAL, True)], 0),
        ("ICMP entry, port 0", ENTRY_NEW, [nm(b"p"), (PROTO, b"\1"), (DST_ADDR, a4), (DST_PORT, b"\0\0")] + port,
         ack, 1),
        ("past max_entries", ENTRY_NEW, [nm(b"p"), (PROTO, b"\xfd"), (DST_ADDR, a4)] + port,
         [("ack", e.ENOSPC, True)], 0),
        ("existing, at max_entries", ENTRY_NEW, [nm(b"p")] + key + port, [("ack", e.EEXIST, True)], 0),
        ("SET of a missing entry", ENTRY_SET, [nm(b"p"), (PROTO, b"\6")] + key + port, [("ack", e.ENOENT, True)], 0),
        ("SET", ENTRY_SET, [nm(b"p")] + key + port[:2] + [(MIN_PORT, b"\5\0")], ack, 1),
        ("profile to IPv6 with entries", SET, [nm(b"p")] + port6, [("ack", e.EBUSY, True)], 0),
        ("GET", ENTRY_GET, [nm(b"p")] + key, [("msg", ENTRY_GET, (b"p", 17, a4, 53, 2, 2, bytes(4), bytes(4), 0, 5, 5,
                                                                    0, 0, 0))] + ack, 0),
        ("DEL, echoed", ENTRY_DEL, [nm(b"p")] + key, [("msg", ENTRY_DEL, (b"p", 17, a4, 53))] + ack, 1),
        ("DEL again", ENTRY_DEL, [nm(b"p")] + key, [("ack", e.ENOENT, True)], 0),
        ("entries dump", ENTRY_GET, [nm(b"p")],
         [("dump", [(b"p", 1, a4, 0, 2, 2, bytes(4), bytes(4), 0, 4000, 4000, 0, 0, 0)], 0, True)], 0),
        ("entries dump, no name", ENTRY_GET, [], [("dump", [], e.EINVAL, True)], 0),
        ("entries dump, bad name", ENTRY_GET, [(NAME, b"a b\0")], [("dump", [], e.EINVAL, True)], 0),
        ("entries dump, no profile", ENTRY_GET, [nm(b"zz")], [("dump", [], e.ENOENT, True)], 0),
        ("entries dump, ENTRIES", ENTRY_GET, [nm(b"p"), (ENTRIES, b"\0" * 4)], [("ack", e.EINVAL, True)], 0),
        ("dump of ENTRY_NEW", ENTRY_NEW, [nm(b"p")], [("ack", e.EOPNOTSUPP, False)], 0),
        ("flush", ENTRY_FLUSH, [nm(b"p")], [("msg", ENTRY_FLUSH, (b"p", 1))] + ack, 1),
        ("flush of none", ENTRY_FLUSH, [nm(b"p")], [("msg", ENTRY_FLUSH, (b"p", 0))] + ack, 1),
        ("profile to IPv6 now", SET, [nm(b"p")] + port6, ack, 1),
        ("DST_PORT of 4 bytes", ENTRY_DEL, [nm(b"p"), (DST_PORT, b"\0" * 4)], [("ack", e.EINVAL, True)], 0),
        ("DST_ADDR of 17 bytes", ENTRY_DEL, [nm(b"p"), (DST_ADDR, b"\0" * 17)], [("ack", e.ERANGE, True)], 0),
        ("attribute 17", ENTRY_DEL, [nm(b"p"), (17, b"")], [("ack", e.EINVAL, True)], 0),
    ]
    bad = 0
    for what, cmd, attrs, want, nev in cases:
        dump = what.startswith("entries dump") or what.startswith("dump of")
        echo = "echoed" in what or what.startswith("flush")
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK) | (NLM_F_ECHO if echo else 0)
        got, events = req(cmd, attrs, flags)
        if got != want or len(events) != nev:
            print("selftest: %s: expected %s and %d events, got %s and %s" % (what, want, nev, got, events))
            bad += 1
    # Random datagrams: the generator and the model run, and meet every outcome.
    r, m = random.Random(1), Model(0x20, True, 6, 4)
    gen, seen, n = Gen(r, m, set()), {}, 0

    class Seq:
        def next(self):
            return 1

    while n < 20000:
        data, made = gen.datagram(Seq())
        if gen.safe(data):
            n += made
            for _, why in m.datagram(data)[2]:
                seen[why] = seen.get(why, 0) + 1
    for why in ("ok", "entry exists", "max_entries", "no such entry", "a port for protocol 1", "protocol 17 without a port",
                "entries only, but an address or port", "family of a profile with entries", "max_profiles"):
        if not seen.get(why):
            print("selftest: 20,000 random messages, none refused with %s" % why)
            bad += 1
    print("selftest: %d cases, %s" % (len(cases), "ok" if not bad else "%d wrong" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["selftest"]:
        sys.exit(selftest())
    main()
