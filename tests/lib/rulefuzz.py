#!/usr/bin/env python3
"""Fuzzes the SSNAT target's checkentry with random and mutated target-info blobs
(struct xt_ssnat_info, ssnat-core/src/abi.rs), sent through both ABIs the kernel has
for rules: IPT_SO_SET_REPLACE / IP6T_SO_SET_REPLACE (whole tables built here, in every
table and chain SSNAT may be in, and in nat), and nf_tables batches with an nft_compat
"target" expression (in tables made with nft by 31-fuzz-rules.sh, at allowed and at
refused hooks). An independent model of the documented rules (SsnatInfo::validate,
the table/hook rule, profiles) predicts every verdict; an accepted rule is read back
(its kernel-private tail must come back zero) and, where a locally sent packet reaches
it, must rewrite that packet as the blob says. Two probes follow the documented table
rule where one blob cannot reach: an nft_compat rule in a regular chain of table raw,
jumped to from raw's forward hook (before and after the rule), must be refused. Every
disagreement is printed as "DISAGREE ..." with the blob in hex.

Usage: rulefuzz.py COUNT [--seed N] [--nat-netns NAME] [--iface IFACE] [--burst K]
                   [--watchdog SECONDS]
   in the network namespace prepared by 31-fuzz-rules.sh (IFACE, default fz0, with
   10.99.0.1/24 and 2001:db8:99::1/64, static neighbours .2 and ::2; the nft tables);
   nat tables are fuzzed in namespace NAME (default fzn), where no packet is sent, so
   that conntrack never runs where packets are checked. First the oracle is checked
   against abi.rs's own cases; then K (default 300) refused rules are sent as fast as
   the kernel takes them, and the module's lines in the kernel log (/dev/kmsg) must
   stay within printk's rate limit; at the end every line the module logged must be
   one of its refusal messages, and no profile may still count a rule. Last line:
   "blobs N accepted A refused R ... disagreements D"; exit status 1 if D > 0.
       rulefuzz.py --selftest   the oracle against hand-written cases only (no kernel)
"""
import ctypes
import errno
import faulthandler
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genl_raw as G  # noqa: E402  (NEW/DEL of profiles; not changed here)

EINVAL, ENOENT = errno.EINVAL, errno.ENOENT

# ---- the ABI (ssnat-core/src/abi.rs) ---------------------------------------------
F_MAP_ADDR, F_MAP_PORT, F_PREFIX, F_PROFILE = 1, 2, 4, 8
F_MASK = 0xF
PORT_PROTOCOLS = {1, 6, 17, 33, 58, 132, 136}
NFPROTO_IPV4, NFPROTO_IPV6 = 2, 10
INFO_FMT = "<HBBHH16s16sII32sQ"
INFO_SIZE = 88          # XT_ALIGN(sizeof(struct xt_ssnat_info)) on x86_64
USER_SIZE = 80          # what the kernel copies back: the tail is kernel-private
HOOK_PRE, HOOK_IN, HOOK_FWD, HOOK_OUT, HOOK_POST = 1, 2, 4, 8, 16
ALLOWED = {"raw": HOOK_PRE | HOOK_OUT, "mangle": 31, "filter": HOOK_IN | HOOK_FWD | HOOK_OUT}
NAME_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

# Kernel log lines the module may print for a refusal (after "xt_SSNAT: SSNAT: ").
KNOWN_MESSAGES = (
    "unknown flags", "no address or port", "address family does not match",
    "bad address range", "bad port range", "IPv6 address range wider", "bad prefix",
    "a port needs -p", "reserved fields are not zero", "bad profile name",
    "--profile cannot be combined", "only valid in the raw, mangle and filter tables",
    "not valid from this chain", "does not exist in this namespace",
    "maps the other address family",
)


def unpack(blob):
    f = struct.unpack(INFO_FMT, blob)
    return dict(zip(("flags", "family", "plen", "minp", "maxp", "mina", "maxa", "seed",
                     "reserved", "profile", "tail"), f))


def host_mask(plen, n):
    """The host bits of a prefix of plen bits, as n bytes."""
    bits = (1 << (8 * n)) - 1
    return ((bits >> plen) if plen < 8 * n else 0).to_bytes(n, "big")


def name_of(profile):
    """The profile name a 32-byte field carries, or None if it is not a valid one: 1-31
    letters, digits, '-', '_', '.', then NULs only."""
    if 0 not in profile:
        return None
    n = profile.index(0)
    name = profile[:n]
    if not name or any(c not in NAME_CHARS for c in name) or any(profile[n:]):
        return None
    return name


def why_invalid(i, rule_family, rule_proto):
    """The documented rules of SsnatInfo::validate, written from the field docs: the
    reason a blob is refused, or None. rule_proto: the rule's -p, 0 for any/inverted."""
    fl, fam = i["flags"], i["family"]
    if fl & ~F_MASK:
        return "unknown flags"
    if fl & F_PROFILE:
        # A profile rule carries the name and the family, nothing else.
        if fl != F_PROFILE:
            return "profile+mapping"
        if fam != rule_family:
            return "family"
        if i["plen"] or i["minp"] or i["maxp"] or any(i["mina"]) or any(i["maxa"]) or i["seed"]:
            return "profile+mapping"
        if i["reserved"]:
            return "reserved"
        return None if name_of(i["profile"]) else "profile name"
    if any(i["profile"]):
        return "reserved"           # an inline rule has no name
    why = mapping_invalid(i, rule_family)
    if why:
        return why
    if fl & F_MAP_PORT and rule_proto not in PORT_PROTOCOLS:
        return "port needs a protocol"
    return None


def mapping_invalid(i, family):
    """The rules a mapping obeys, inline in a rule or as a profile (whose port mapping
    needs no protocol): the reason it is refused, or None."""
    fl, fam = i["flags"], i["family"]
    if fl & ~(F_MAP_ADDR | F_MAP_PORT | F_PREFIX):
        return "unknown flags"
    if not fl & (F_MAP_ADDR | F_MAP_PORT):
        return "nothing to do"
    if fam not in (NFPROTO_IPV4, NFPROTO_IPV6) or fam != family:
        return "family"
    if i["reserved"]:
        return "reserved"
    n = 4 if fam == NFPROTO_IPV4 else 16
    mina, maxa = i["mina"], i["maxa"]
    if fl & F_MAP_ADDR:
        if any(mina[n:]) or any(maxa[n:]):
            return "address past its family's length"
        if fl & F_PREFIX:
            if not 1 <= i["plen"] <= 8 * n:
                return "prefix length"
            host = host_mask(i["plen"], n)
            if any(a & h for a, h in zip(mina, host)):
                return "prefix host bits"
            if maxa[:n] != bytes(a | h for a, h in zip(mina, host)):
                return "prefix last address"
        else:
            if i["plen"]:
                return "prefix length without F_PREFIX"
            if mina > maxa:
                return "reversed addresses"
            if n == 16 and mina[:8] != maxa[:8]:
                return "IPv6 range wider than /64"
    elif any(mina) or any(maxa) or i["plen"] or fl & F_PREFIX:
        return "address fields without F_MAP_ADDR"
    if fl & F_MAP_PORT:
        if i["minp"] == 0 or i["minp"] > i["maxp"]:
            return "port range"
    elif i["minp"] or i["maxp"]:
        return "port fields without F_MAP_PORT"
    return None


def expect(ctx, blob, profiles):
    """(errnos accepted as the verdict, reason): () for an accepted rule."""
    # x_tables finds the target by name and revision (ENOENT) before it checks the
    # size of its data (EINVAL), and so does nft_compat.
    if ctx["rev"] != 0:
        return {ENOENT}, "revision %d" % ctx["rev"]
    if len(blob) != INFO_SIZE:
        return {EINVAL}, "size %d" % len(blob)
    i = unpack(blob)
    why = why_invalid(i, ctx["nfproto"], ctx["proto_seen"])
    if why:
        return {EINVAL}, why
    allowed = ALLOWED.get(ctx["table"])
    bad_place = allowed is None or ctx["hook_mask"] & ~allowed
    if i["flags"] & F_PROFILE:
        p = profiles.get(ctx["ns"], {}).get(name_of(i["profile"]))
        if p is None:
            # Table and profile both wrong: either refusal will do.
            return ({EINVAL, ENOENT} if bad_place else {ENOENT}), "missing profile"
        if bad_place:
            return {EINVAL}, "table/hook"
        if p["nfproto"] != ctx["nfproto"]:
            return {EINVAL}, "profile of the other family"
        return set(), None
    if bad_place:
        return {EINVAL}, "table/hook"
    return set(), None


# ---- blobs --------------------------------------------------------------------------
def pack(fl=0, fam=0, plen=0, minp=0, maxp=0, mina=b"", maxa=b"", seed=0, res=0, prof=b"", tail=0):
    return struct.pack(INFO_FMT, fl, fam, plen, minp, maxp, mina, maxa, seed, res, prof, tail)


SAMPLE4 = [bytes(4), b"\xff" * 4, bytes([10, 99, 0, 1]), bytes([127, 0, 0, 1]),
           bytes([198, 51, 100, 7]), bytes([224, 0, 0, 1])]
SAMPLE6 = [bytes(16), b"\xff" * 16, socket.inet_pton(socket.AF_INET6, "2001:db8:99::1"),
           socket.inet_pton(socket.AF_INET6, "::1"), socket.inet_pton(socket.AF_INET6, "ff02::1")]
EXISTING = [b"p4", b"q4", b"p6", b"q6"]
MISSING = [b"nosuch", b"p5", b"P4", b"p4.", b"a" * 31, b"x-y_z.0"]


def rand_addr(r, n):
    if r.random() < 0.2:
        return r.choice(SAMPLE4 if n == 4 else SAMPLE6)
    if n == 16 and r.random() < 0.7:
        return bytes([0x20, 0x01, 0x0d, 0xb8]) + r.randbytes(12)
    return r.randbytes(n)


def rand_ports(r):
    lo = r.choice([1, 1024, 65535, r.randint(1, 65535)])
    hi = lo if r.random() < 0.4 else r.randint(lo, min(65535, lo + r.choice([1, 100, 65535])))
    return lo, hi


def pad16(a):
    return a + bytes(16 - len(a))


def gen_valid(r, fam):
    """A blob the documented rules accept for a rule of family fam (if the rule has a
    port protocol, for a port mapping)."""
    n = 4 if fam == NFPROTO_IPV4 else 16
    kind = r.choice(["fixed", "fixed", "range", "prefix", "port", "profile", "profile"])
    seed = r.getrandbits(32) if r.random() < 0.3 else 0
    if kind == "profile":
        name = r.choice(EXISTING * 3 + MISSING) if r.random() < 0.9 else \
            bytes(r.choice(NAME_CHARS) for _ in range(r.randint(1, 31)))
        return pack(F_PROFILE, fam, prof=name)
    fl, plen, mina, maxa, minp, maxp = 0, 0, b"", b"", 0, 0
    if kind == "port":
        fl = F_MAP_PORT
    else:
        fl = F_MAP_ADDR | (F_MAP_PORT if r.random() < 0.5 else 0)
        a = rand_addr(r, n)
        if kind == "fixed":
            mina = maxa = a
        elif kind == "range":
            b = bytearray(a)
            lo = 8 if n == 16 else 0    # IPv6: within one /64
            for k in range(r.randint(lo, n - 1), n):
                b[k] = r.randint(0, 255)
            mina, maxa = sorted([a, bytes(b)])
        else:
            fl |= F_PREFIX
            plen = r.choice([1, 8 * n, r.randint(1, 8 * n)])
            host = host_mask(plen, n)
            mina = bytes(x & ~h & 0xff for x, h in zip(a, host))
            maxa = bytes(x | h for x, h in zip(mina, host))
    if fl & F_MAP_PORT:
        minp, maxp = rand_ports(r)
    return pack(fl, fam, plen, minp, maxp, pad16(mina), pad16(maxa), seed)


def set_u16(b, off, v):
    struct.pack_into("<H", b, off, v & 0xffff)


def mutate(r, blob, rule_fam):
    """One random mutation of a blob (bytearray, in place); returns its name."""
    b = blob
    fl = struct.unpack_from("<H", b, 0)[0]
    n = 4 if b[2] == NFPROTO_IPV4 else 16
    m = r.choice(["flag_bit", "flags", "family", "rev_addr", "rev_port", "port0", "plen",
                  "host_bits", "prefix_max", "addr_tail", "wide6", "reserved", "seed",
                  "prof_in_inline", "name_unterminated", "name_char", "name_after_nul",
                  "name_empty", "name_31", "byte", "random", "profile_and_map", "other_family"])
    if m.startswith("name_") and not fl & F_PROFILE and r.random() < 0.8:
        m = r.choice(["rev_addr", "rev_port", "port0", "plen", "host_bits", "prefix_max"])
    if m == "flag_bit":
        set_u16(b, 0, fl ^ (1 << r.randint(0, 15)))
    elif m == "flags":
        set_u16(b, 0, r.getrandbits(16))
    elif m == "family":
        b[2] = r.choice([0, 1, 2, 7, 10, 255, r.randint(0, 255)])
    elif m == "other_family":
        b[2] = NFPROTO_IPV6 if rule_fam == NFPROTO_IPV4 else NFPROTO_IPV4
    elif m == "rev_addr":
        if b[8:24] != b[24:40]:
            b[8:24], b[24:40] = b[24:40], b[8:24]
        else:
            k = r.randint(0, n - 1)
            b[24 + k] = (b[24 + k] - 1) & 0xff
    elif m == "rev_port":
        lo, hi = struct.unpack_from("<HH", b, 4)
        struct.pack_into("<HH", b, 4, hi, lo) if lo != hi else struct.pack_into("<HH", b, 4, lo, (lo - 1) & 0xffff)
    elif m == "port0":
        set_u16(b, 4, 0)
    elif m == "plen":
        b[3] = r.choice([0, 8 * n + 1, 8 * n, 33, 129, 255, r.randint(0, 255)])
    elif m == "host_bits":
        k = r.randint(0, n - 1)
        b[8 + k] |= 1 << r.randint(0, 7)
    elif m == "prefix_max":
        k = r.randint(0, n - 1)
        b[24 + k] ^= 1 << r.randint(0, 7)
    elif m == "addr_tail":
        b[r.choice([8, 24]) + r.randint(4, 15)] = r.randint(1, 255)
    elif m == "wide6":
        b[24 + r.randint(0, 7)] ^= 0xff
    elif m == "reserved":
        struct.pack_into("<I", b, 44, r.getrandbits(32) | 1)
    elif m == "seed":
        struct.pack_into("<I", b, 40, r.getrandbits(32) | 1)
    elif m == "prof_in_inline":
        b[48 + r.randint(0, 31)] = r.randint(1, 255)
    elif m == "name_unterminated":
        b[48:80] = bytes(r.choice(NAME_CHARS) for _ in range(32))
    elif m == "name_char":
        k = r.randint(0, 30)
        b[48 + k] = r.choice(b" /:@\x7f\x80\xe9\x01,*")
    elif m == "name_after_nul":
        k = r.randint(1, 30)
        b[48 + k] = 0
        b[48 + r.randint(k + 1, 31)] = r.choice(NAME_CHARS)
    elif m == "name_empty":
        b[48:80] = bytes(32)
    elif m == "name_31":
        b[48:80] = bytes(r.choice(NAME_CHARS) for _ in range(31)) + b"\0"
    elif m == "byte":
        b[r.randint(0, USER_SIZE - 1)] = r.randint(0, 255)
    elif m == "random":
        b[0:USER_SIZE] = r.randbytes(USER_SIZE)
    elif m == "profile_and_map":
        set_u16(b, 0, fl | F_PROFILE | r.choice([F_MAP_ADDR, F_MAP_PORT, F_PREFIX]))
    return m


def gen_blob(r, fam):
    """(blob, description): 88 bytes but for a few wrong sizes."""
    blob = bytearray(gen_valid(r, fam))
    muts = []
    if r.random() < 0.4:
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            muts.append(mutate(r, blob, fam))
    if r.random() < 0.5:
        # Garbage in the kernel-private tail: must change nothing.
        struct.pack_into("<Q", blob, USER_SIZE, r.getrandbits(64) | 1)
        muts.append("tail")
    blob = bytes(blob)
    if r.random() < 0.05:
        size = r.choice([0, 8, 40, 80, 84, 87, 89, 92, 96, 120, 176])
        blob = (blob + r.randbytes(max(0, size - len(blob))))[:size]
        muts.append("size")
    return blob, "+".join(muts) or "valid"


# ---- namespaces and sockets ---------------------------------------------------------
libc = ctypes.CDLL(None, use_errno=True)
libc.setsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                            ctypes.POINTER(ctypes.c_uint)]
CLONE_NEWNET = 0x40000000


class Netns:
    """Runs a constructor in another network namespace (sockets stay in the one they
    were made in)."""

    def __init__(self, name):
        self.name = name
        self.fd = os.open("/run/netns/%s" % name, os.O_RDONLY) if name else None
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)

    def run(self, fn, *a):
        if self.fd is None:
            return fn(*a)
        if libc.setns(self.fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns %s" % self.name)
        try:
            return fn(*a)
        finally:
            if libc.setns(self.home, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")

    def proc_rules(self):
        """The rules of /proc/net/xt_SSNAT in this namespace: [(table, family)]. (Kept
        open: a seq_file shows its namespace afresh on each read from the start.)"""
        if not hasattr(self, "proc"):
            self.proc = self.run(open, "/proc/net/xt_SSNAT", "rb", 0)
        self.proc.seek(0)
        return [tuple(l.split()[1:3]) for l in self.proc.read(65536).decode().splitlines()[1:]]


# ---- legacy: IPT_SO_SET_REPLACE -----------------------------------------------------
SO_SET_REPLACE, SO_GET_INFO, SO_GET_ENTRIES = 64, 64, 65


def xt_target(name, rev, data, size=None):
    return struct.pack("<H29sB", 32 + len(data) if size is None else size, name, rev) + data


def align8(n):
    return (n + 7) & ~7


class Legacy:
    """One family's legacy tables in one namespace, replaced whole."""

    def __init__(self, fam, ns):
        self.fam = fam
        self.af, self.level = (socket.AF_INET, socket.IPPROTO_IP) if fam == 4 else \
            (socket.AF_INET6, socket.IPPROTO_IPV6)
        self.s = ns.run(socket.socket, self.af, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.esize = 112 if fam == 4 else 168
        self.base = {}

    def entry(self, target, proto=0, inv=0, f_proto=1, slack=0):
        toff = self.esize
        noff = align8(toff + len(target)) + slack
        if self.fam == 4:
            head = struct.pack("<16s64sHBBIHHI16s", b"", b"", proto, 0, inv, 0, toff, noff, 0, b"")
        else:
            head = struct.pack("<64s64sHBBB3sIHHI4s16s", b"", b"", proto, 0, f_proto if proto else 0,
                               inv, b"", 0, toff, noff, 0, b"", b"")
        return head + target + bytes(noff - toff - len(target))

    def info(self, table):
        buf = ctypes.create_string_buffer(struct.pack("<32s", table.encode()), 84)
        ln = ctypes.c_uint(84)
        if libc.getsockopt(self.s.fileno(), self.level, SO_GET_INFO, buf, ctypes.byref(ln)):
            raise OSError(ctypes.get_errno(), "GET_INFO %s" % table)
        name, valid, *rest = struct.unpack("<32sI5I5III", buf.raw)
        return valid, rest[10], rest[11]       # valid hooks, entries, size

    def replace(self, table, rules, entries=None):
        """rules: [(hook bit, entry bytes)]. Returns 0 or the errno. entries: a list to
        which the number of entries the table had before is appended."""
        valid, num, _ = self.info(table)
        if entries is not None:
            entries.append((valid, num))
        policy = self.entry(xt_target(b"", 0, struct.pack("<i4x", -2)))   # ACCEPT
        error = self.entry(xt_target(b"ERROR", 0, b"ERROR".ljust(30, b"\0") + bytes(2)))
        body, hook_entry, underflow, count = b"", [0] * 5, [0] * 5, 0
        for h in range(5):
            if not valid & (1 << h):
                continue
            hook_entry[h] = len(body)
            for hook, e in rules:
                if hook == 1 << h:
                    body += e
                    count += 1
            underflow[h] = len(body)
            body += policy
            count += 1
        body += error
        count += 1
        counters = ctypes.create_string_buffer(16 * num)
        repl = struct.pack("<32sIII5I5IIQ", table.encode(), valid, count, len(body), *hook_entry,
                           *underflow, num, ctypes.addressof(counters)) + body
        buf = ctypes.create_string_buffer(repl, len(repl))
        if libc.setsockopt(self.s.fileno(), self.level, SO_SET_REPLACE, buf, len(repl)):
            return ctypes.get_errno()
        return 0

    def targets(self, table):
        """The SSNAT targets of the table as the kernel gives them back:
        [(target_size, revision, data)]."""
        _, _, size = self.info(table)
        buf = ctypes.create_string_buffer(struct.pack("<32sI4x", table.encode(), size), 40 + size)
        ln = ctypes.c_uint(40 + size)
        if libc.getsockopt(self.s.fileno(), self.level, SO_GET_ENTRIES, buf, ctypes.byref(ln)):
            raise OSError(ctypes.get_errno(), "GET_ENTRIES %s" % table)
        ents, off, out = buf.raw[40:], 0, []
        toff_at = 88 if self.fam == 4 else 140
        while off < size:
            toff, noff = struct.unpack_from("<HH", ents, off + toff_at)
            tsize, tname, rev = struct.unpack_from("<H29sB", ents, off + toff)
            if tname.rstrip(b"\0") == b"SSNAT":
                out.append((tsize, rev, ents[off + toff + 32:off + toff + tsize]))
            off += noff
        return out


LEGACY_CHAINS = {"raw": {"PREROUTING": HOOK_PRE, "OUTPUT": HOOK_OUT},
                 "mangle": {"PREROUTING": HOOK_PRE, "INPUT": HOOK_IN, "FORWARD": HOOK_FWD,
                            "OUTPUT": HOOK_OUT, "POSTROUTING": HOOK_POST},
                 "filter": {"INPUT": HOOK_IN, "FORWARD": HOOK_FWD, "OUTPUT": HOOK_OUT},
                 "nat": {"PREROUTING": HOOK_PRE, "INPUT": HOOK_IN, "OUTPUT": HOOK_OUT,
                         "POSTROUTING": HOOK_POST}}

# ---- nft_compat: nfnetlink batches ---------------------------------------------------
NETLINK_NETFILTER = 12
NFT_NEWRULE, NFT_GETRULE, NFT_DELRULE = 0xa06, 0xa07, 0xa08
NLA_F_NESTED = 0x8000
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_CREATE, NLM_F_APPEND = 1, 4, 0x300, 0x400, 0x800

# (table, chain) -> hook bit, 0 for a regular chain: as 31-fuzz-rules.sh makes them.
NFT_CHAINS = {"raw": {"PREROUTING": HOOK_PRE, "OUTPUT": HOOK_OUT, "FWD": HOOK_FWD, "IN": HOOK_IN,
                      "POST": HOOK_POST, "sub": 0},
              "mangle": {"PREROUTING": HOOK_PRE, "INPUT": HOOK_IN, "FORWARD": HOOK_FWD,
                         "OUTPUT": HOOK_OUT, "POSTROUTING": HOOK_POST},
              "filter": {"INPUT": HOOK_IN, "FORWARD": HOOK_FWD, "OUTPUT": HOOK_OUT, "PRE": HOOK_PRE,
                         "POST": HOOK_POST},
              "foo": {"OUTPUT": HOOK_OUT}}
NFT_NAT_CHAINS = {"nat": {"PREROUTING": HOOK_PRE, "INPUT": HOOK_IN, "OUTPUT": HOOK_OUT,
                          "POSTROUTING": HOOK_POST}}


def be32(v):
    return struct.pack(">I", v)


def nest(t, data):
    return G.nla(t | NLA_F_NESTED, data)


def nft_attrs(b):
    """Attributes with their type bits masked: {type: payload} (last one wins)."""
    return G.attrs(b)


class Nft:
    """nf_tables over nfnetlink, in one namespace."""

    def __init__(self, ns):
        self.s = ns.run(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.s.bind((0, 0))
        self.s.setsockopt(G.SOL_NETLINK, G.NETLINK_EXT_ACK, 1)
        self.s.settimeout(5)
        self.seq = 1000

    def msg(self, typ, flags, family, body, res=0):
        self.seq += 1
        return self.seq, struct.pack("=IHHII", 20 + len(body), typ, flags, self.seq, 0) + \
            struct.pack("=BB", family, 0) + struct.pack(">H", res) + body

    def batch(self, msgs):
        """Sends [(type, flags, family, body)] in one batch; returns their errnos."""
        _, begin = self.msg(0x10, NLM_F_REQUEST, 0, b"", res=10)
        seqs, out = [], begin
        for typ, flags, family, body in msgs:
            s, m = self.msg(typ, flags | NLM_F_REQUEST | NLM_F_ACK, family, body)
            seqs.append(s)
            out += m
        end_seq, end = self.msg(0x11, NLM_F_REQUEST | NLM_F_ACK, 0, b"", res=10)
        self.s.send(out + end)
        errs = {}
        # The acks come together once the batch is done: one per rule, and the end's
        # when the batch was committed (or an error for the begin when the commit failed).
        while True:
            d = self.s.recv(65536)
            i = 0
            while i + 16 <= len(d):
                n, t, f, sq, _ = struct.unpack_from("=IHHII", d, i)
                if t == G.NLMSG_ERROR:
                    errs[sq] = -struct.unpack_from("=i", d, i + 16)[0]
                i += (n + 3) & ~3
            if all(s in errs for s in seqs):
                mine = [errs[s] for s in seqs]
                if any(mine) or end_seq in errs:
                    return mine
                failed = [e for s, e in errs.items() if e and s not in seqs]
                if failed:
                    return [failed[0]] * len(seqs)   # the commit itself failed

    @staticmethod
    def newrule(table, chain, blob, proto=0, inv=False, rev=0, l4match=True):
        exprs = b""
        if l4match and 0 < proto <= 255:
            # As iptables-nft matches -p: meta l4proto, cmp (neq when inverted).
            exprs += nest(1, G.nla(1, b"meta\0") + nest(2, G.nla(1, be32(1)) + G.nla(2, be32(16))))
            exprs += nest(1, G.nla(1, b"cmp\0") + nest(2, G.nla(1, be32(1)) + G.nla(2, be32(1 if inv else 0)) +
                                                       nest(3, G.nla(1, bytes([proto])))))
        exprs += nest(1, G.nla(1, b"target\0") + nest(2, G.nla(1, b"SSNAT\0") + G.nla(2, be32(rev)) +
                                                       G.nla(3, blob)))
        body = G.nla(1, table.encode() + b"\0") + G.nla(2, chain.encode() + b"\0") + nest(4, exprs)
        if proto or inv:
            body += nest(5, G.nla(1, be32(proto)) + G.nla(2, be32(2 if inv else 0)))
        return body

    def add(self, family, rules):
        """rules: [(table, chain, newrule body)]; returns their errnos."""
        return self.batch([(NFT_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, family, b) for _, _, b in rules])

    def flush(self, family, table, chain):
        body = G.nla(1, table.encode() + b"\0") + G.nla(2, chain.encode() + b"\0")
        return self.batch([(NFT_DELRULE, 0, family, body)])[0]

    def targets(self, family, table, chain):
        """The SSNAT target infos of a chain, as a rule dump gives them back."""
        body = G.nla(1, table.encode() + b"\0") + G.nla(2, chain.encode() + b"\0")
        _, m = self.msg(NFT_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, family, body)
        self.s.send(m)
        out = []
        while True:
            d = self.s.recv(65536)
            i = 0
            while i + 16 <= len(d):
                n, t, f, sq, _ = struct.unpack_from("=IHHII", d, i)
                if t in (G.NLMSG_DONE, G.NLMSG_ERROR):
                    return out
                a = nft_attrs(d[i + 20:i + n])
                j, ex = 0, a.get(4, b"")
                while j + 4 <= len(ex):
                    ln = struct.unpack_from("=H", ex, j)[0]
                    e = nft_attrs(ex[j + 4:j + ln])
                    if e.get(1, b"").rstrip(b"\0") == b"target":
                        td = nft_attrs(e.get(2, b""))
                        if td.get(1, b"").rstrip(b"\0") == b"SSNAT":
                            out.append(td.get(3, b""))
                    j += (ln + 3) & ~3
                i += (n + 3) & ~3


# ---- packets ---------------------------------------------------------------------------
LOCAL = {4: "10.99.0.1", 6: "2001:db8:99::1"}
PEER = {4: "10.99.0.2", 6: "2001:db8:99::2"}


class Wire:
    """Sends a tagged UDP datagram from the local address and captures it as it leaves
    IFACE (AF_PACKET, after every output hook)."""

    def __init__(self, iface):
        self.cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.cap.bind((iface, 0))
        self.cap.settimeout(2)
        self.serial = 0

    def send(self, fam):
        """Returns ((orig addr, orig port), (addr, port) as captured, or None)."""
        self.serial += 1
        tag = b"SSNATFUZZ" + struct.pack(">I", self.serial)
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        with socket.socket(af, socket.SOCK_DGRAM) as s:
            s.bind((LOCAL[fam], 0))
            sport = s.getsockname()[1]
            s.sendto(tag, (PEER[fam], 9999))
        orig = (socket.inet_pton(af, LOCAL[fam]), sport)
        end = time.time() + 2
        while time.time() < end:
            try:
                f = self.cap.recv(2048)
            except socket.timeout:
                break
            if not f.endswith(tag):
                continue
            p = f[14:]
            if fam == 4:
                ihl = (p[0] & 15) * 4
                return orig, (p[12:16], struct.unpack_from(">H", p, ihl)[0])
            return orig, (p[8:24], struct.unpack_from(">H", p, 40)[0])
        return orig, None


def predicted(info, prof, orig, fam):
    """(addr_ok, port_ok): whether a rewritten address, port is what the mapping allows
    for a packet from orig (the mapping of a profile rule is the profile's)."""
    m = prof["info"] if prof else unpack(info)
    n = 4 if fam == 4 else 16
    addr, port = orig
    fl = m["flags"]

    def addr_ok(a):
        if not fl & F_MAP_ADDR:
            return a == addr
        lo, hi = m["mina"][:n], m["maxa"][:n]
        if fl & F_PREFIX:
            host = host_mask(m["plen"], n)
            return a == bytes((l & ~h & 0xff) | (x & h) for l, h, x in zip(lo, host, addr))
        return lo <= a <= hi

    def port_ok(p):
        if not fl & F_MAP_PORT:
            return p == port
        return m["minp"] <= p <= m["maxp"]
    return addr_ok, port_ok


# ---- the run ----------------------------------------------------------------------------
PROFILES = {  # name -> (family, flags, min, max, plen, min port, max port)
    b"p4": (4, F_MAP_ADDR | F_MAP_PORT, "203.0.113.5", "203.0.113.5", 0, 7000, 7099),
    b"q4": (4, F_MAP_ADDR, "203.0.113.10", "203.0.113.20", 0, 0, 0),
    b"p6": (6, F_MAP_ADDR | F_MAP_PORT, "2001:db8:77::5", "2001:db8:77::5", 0, 7000, 7000),
    b"q6": (6, F_MAP_ADDR | F_PREFIX, "2001:db8:78::", "2001:db8:78::ffff:ffff:ffff:ffff", 64, 0, 0),
}


def make_profiles(genl):
    out = {}
    for name, (fam, fl, a, b, plen, p0, p1) in PROFILES.items():
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        mina, maxa = socket.inet_pton(af, a), socket.inet_pton(af, b)
        nfp = NFPROTO_IPV4 if fam == 4 else NFPROTO_IPV6
        req = [G.nla(G.NAME, name + b"\0"), G.nla(G.FAMILY, bytes([nfp])), G.nla(G.FLAGS, struct.pack("=H", fl)),
               G.nla(G.MIN_ADDR, mina), G.nla(G.MAX_ADDR, maxa)]
        if plen:
            req.append(G.nla(G.PREFIX_LEN, bytes([plen])))
        if p0:
            req += [G.nla(G.MIN_PORT, struct.pack("=H", p0)), G.nla(G.MAX_PORT, struct.pack("=H", p1))]
        err = genl.cmd(G.NEW, *req)
        if err and -err[0] != errno.EEXIST:
            sys.exit("profile %s: %s %s" % (name.decode(), os.strerror(-err[0]), err[1]))
        out[name] = {"nfproto": nfp, "info": unpack(pack(fl, nfp, plen, p0, p1, pad16(mina), pad16(maxa)))}
    return out


def profile_rules(genl):
    """{name: rules} from a dump of the namespace's profiles."""
    err, replies = genl.raw(genl.id, struct.pack("=BBH", G.GET, 1, 0), flags=G.NLM_F_REQUEST | NLM_F_DUMP)
    if err:
        raise OSError(-err[0], "profile dump: %s" % err[1])
    out = {}
    for r in replies:
        a = G.attrs(r[4:])
        out[a[G.NAME].rstrip(b"\0")] = struct.unpack("=I", a[G.RULES])[0]
    return out


def ename(e):
    return "OK" if not e else errno.errorcode.get(e, str(e))


class Kmsg:
    """The kernel log from now on (/dev/kmsg): the module's lines, as they come."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def lines(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                return out
            except BrokenPipeError:
                continue          # overwritten before we read it: go on
            text = rec.split(";", 1)[-1].split("\n", 1)[0]
            if "xt_SSNAT" in text and not any(m in text for m in (
                    "target registered", "taints kernel", "verification failed")):
                out.append(text)


def proto_seen(c):
    """The protocol checkentry sees: the rule's -p, but 0 for an inverted match."""
    if c["inv"]:
        return 0
    # (ip6_tables sets IP6T_F_PROTO itself when a protocol is given: f_proto is moot.)
    return c["proto"]


class Run:
    def __init__(self, args):
        self.seed = args["seed"]
        self.r = random.Random(self.seed)
        self.here, self.nat = Netns(None), Netns(args["nat_netns"])
        self.legacy = {(ns, f): Legacy(f, n) for ns, n in (("fz", self.here), ("fzn", self.nat)) for f in (4, 6)}
        self.nft = {"fz": Nft(self.here), "fzn": Nft(self.nat)}
        self.genl = {"fz": G.Genl(), "fzn": self.nat.run(G.Genl)}
        self.profiles = {ns: make_profiles(g) for ns, g in self.genl.items()}
        self.wire = Wire(args["iface"])
        self.n = dict(blobs=0, accepted=0, refused=0, logged=0, packets=0, readback=0, pairs=0)
        self.disagree = []
        self.revs_left = 4            # a wrong revision makes the kernel run modprobe

    def bad(self, what, ctx, blob, want, got):
        self.disagree.append("DISAGREE %s abi=%s ns=%s fam=%d table=%s chain=%s proto=%d inv=%d%s "
                             "size=%d rev=%d (%s) blob=%s expected=%s got=%s" % (
                                 what, ctx["abi"], ctx["ns"], ctx["fam"], ctx["table"], ctx["chain"],
                                 ctx["proto"], ctx["inv"], "" if ctx.get("f_proto", 1) else " no-F_PROTO",
                                 len(blob), ctx["rev"], ctx["muts"], blob.hex(), want, got))

    def context(self):
        r = self.r
        abi = r.choice(["legacy", "nft"])
        fam = r.choice([4, 6])
        nat = r.random() < 0.1
        chains = (LEGACY_CHAINS if abi == "legacy" else dict(NFT_CHAINS, **NFT_NAT_CHAINS))
        if nat:
            table = "nat"
        elif r.random() < 0.7:
            table = r.choice(["raw", "filter", "mangle"])   # the chains packets go through
        else:
            table = r.choice([t for t in chains if t != "nat"])
        if table != "nat" and r.random() < 0.7:
            chain = {"raw": "OUTPUT", "filter": "OUTPUT", "mangle": "POSTROUTING"}.get(table, "OUTPUT")
        else:
            chain = r.choice(sorted(chains[table]))
        proto = r.choice([17] * 24 + [0] * 3 + [6, 1, 58, 132, 33, 136, 47, 41, 255, 273, 262, 256,
                                                 r.randint(0, 255)])
        inv = 1 if r.random() < 0.1 else 0
        f_proto = 0 if fam == 6 and r.random() < 0.05 else 1
        rev = 0
        if self.revs_left and r.random() < 0.01:
            self.revs_left -= 1
            rev = r.choice([1, 2, 255])
        c = dict(abi=abi, fam=fam, nfproto=NFPROTO_IPV4 if fam == 4 else NFPROTO_IPV6,
                 ns="fzn" if table == "nat" else "fz", table=table, chain=chain,
                 hook_mask=chains[table][chain], proto=proto, inv=inv, f_proto=f_proto,
                 rev=rev, slack=8 * r.choice([1, 2]) if r.random() < 0.03 else 0)
        c["proto_seen"] = proto_seen(c)
        return c

    def matches_udp(self, ctx):
        """Whether the rule matches a UDP datagram (the -p of the entry, not the blob)."""
        p, inv = ctx["proto"], ctx["inv"]
        if p == 0:
            return True
        if p > 255:
            return None          # not modelled: skip the packet check
        return (p == 17) != bool(inv)

    def step(self):
        r = self.r
        ctx = self.context()
        blob, muts = gen_blob(r, ctx["nfproto"])
        ctx["muts"] = muts
        items = [(ctx, blob)]
        if r.random() < 0.08:
            # Two rules in one replace or batch: both must pass, or neither stays.
            c2 = self.context()
            c2.update(abi=ctx["abi"], fam=ctx["fam"], nfproto=ctx["nfproto"], ns=ctx["ns"],
                      table=ctx["table"], rev=0, slack=0)
            chains = LEGACY_CHAINS if ctx["abi"] == "legacy" else dict(NFT_CHAINS, **NFT_NAT_CHAINS)
            c2["chain"] = r.choice(sorted(chains[ctx["table"]]))
            c2["hook_mask"] = chains[ctx["table"]][c2["chain"]]
            c2["proto_seen"] = proto_seen(c2)
            b2, m2 = gen_blob(r, ctx["nfproto"])
            c2["muts"] = m2 + ",pair"
            ctx["muts"] += ",pair"
            items.append((c2, b2))
            self.n["pairs"] += 1
        wants = [expect(c, b, self.profiles) for c, b in items]
        if ctx["abi"] == "legacy":
            got = self.do_legacy(items)
        else:
            got = self.do_nft(items)
        self.n["blobs"] += len(items)
        whole_ok = all(not w[0] for w in wants)
        for (c, b), (want, why), g in zip(items, wants, got):
            if not want:
                self.n["accepted"] += 1
            else:
                self.n["refused"] += 1
                # checkentry logs: anything that got past size and revision.
                if len(b) == INFO_SIZE and c["rev"] == 0:
                    self.n["logged"] += 1
            if len(items) > 1 and g is None:
                continue
            if (not want and g) or (want and g not in want):
                self.bad("verdict", c, b, ename(0) if not want else "/".join(sorted(map(ename, want))) +
                         "(%s)" % why, ename(g))
        accepted_all = all(g == 0 for g in got if g is not None) and all(g is not None for g in got)
        if whole_ok and accepted_all:
            self.check_accepted(items)
        self.cleanup(items, accepted_all)

    def do_legacy(self, items):
        ctx = items[0][0]
        lg = self.legacy[(ctx["ns"], ctx["fam"])]
        rules = [(c["hook_mask"], lg.entry(xt_target(b"SSNAT", c["rev"], b), c["proto"], 0x40 if c["inv"] else 0,
                                           c["f_proto"], c["slack"])) for c, b in items]
        before = []
        err = lg.replace(ctx["table"], rules, before)
        # The table had its policies and its error entry only: no rule of an earlier
        # step is left.
        valid, num = before[0]
        base = bin(valid).count("1") + 1
        if num != base:
            self.bad("leftover", ctx, b"", "%d entries" % base, "%d" % num)
        if len(items) == 1:
            return [err]
        # A refused replace names one errno: that of the first bad entry, in table order.
        order = sorted(range(len(items)), key=lambda k: (items[k][0]["hook_mask"], k))
        out = [None] * len(items)
        if err:
            for k in order:
                w = expect(items[k][0], items[k][1], self.profiles)[0]
                if w:
                    out[k] = err
                    break
            else:
                out[order[0]] = err
        else:
            out = [0] * len(items)
        return out

    def do_nft(self, items):
        ctx = items[0][0]
        fam = socket.AF_INET if ctx["fam"] == 4 else socket.AF_INET6
        rules = [(c["table"], c["chain"], Nft.newrule(c["table"], c["chain"], b, c["proto"], c["inv"], c["rev"]))
                 for c, b in items]
        errs = self.nft[ctx["ns"]].add(fam, rules)
        if len(items) > 1 and any(errs):
            # The batch is aborted as a whole: a rule that passed alone is not kept.
            return [e if e else None for e in errs]
        return errs

    def check_accepted(self, items):
        ctx = items[0][0]
        ns = self.here if ctx["ns"] == "fz" else self.nat
        # /proc/net/xt_SSNAT lists exactly the rules just added.
        rules = ns.proc_rules()
        want = [(ctx["table"], "ipv4" if ctx["fam"] == 4 else "ipv6")] * len(items)
        if sorted(rules) != want:
            self.bad("proc", ctx, items[0][1], want, rules)
        # Read back: the user part as sent, the kernel-private tail as zeros.
        for c, b in items:
            if c["abi"] == "legacy":
                back = [d for _, _, d in self.legacy[(c["ns"], c["fam"])].targets(c["table"])]
            else:
                fam = socket.AF_INET if c["fam"] == 4 else socket.AF_INET6
                back = self.nft[c["ns"]].targets(fam, c["table"], c["chain"])
            if b[:USER_SIZE] + bytes(INFO_SIZE - USER_SIZE) not in back:
                self.bad("readback", c, b, "user part, zero tail", " ".join(x.hex() for x in back))
            self.n["readback"] += 1
        # A packet through the rule, when one reaches it from here (not through a
        # route-type chain, which routes again after a new source).
        if len(items) > 1 or ctx["ns"] != "fz":
            return
        if (ctx["table"], ctx["chain"]) not in (("raw", "OUTPUT"), ("filter", "OUTPUT"), ("mangle", "POSTROUTING")):
            return
        m = self.matches_udp(ctx)
        if m is None:
            return
        blob = items[0][1]
        info = unpack(blob)
        prof = self.profiles["fz"].get(name_of(info["profile"])) if info["flags"] & F_PROFILE else None
        orig, seen = self.wire.send(ctx["fam"])
        self.n["packets"] += 1
        if seen is None:
            self.bad("packet", ctx, blob, "a datagram", "none captured")
            return
        if not m:
            if seen != orig:
                self.bad("packet", ctx, blob, "unchanged (rule does not match UDP)", seen)
            return
        addr_ok, port_ok = predicted(blob, prof, orig, ctx["fam"])
        if not (addr_ok(seen[0]) and port_ok(seen[1])):
            af = socket.AF_INET if ctx["fam"] == 4 else socket.AF_INET6
            self.bad("packet", ctx, blob, "rewrite as the blob says",
                     "%s:%d" % (socket.inet_ntop(af, seen[0]), seen[1]))

    def cleanup(self, items, kept):
        ctx = items[0][0]
        ns = self.here if ctx["ns"] == "fz" else self.nat
        if kept:
            if ctx["abi"] == "legacy":
                err = self.legacy[(ctx["ns"], ctx["fam"])].replace(ctx["table"], [])
                if err:
                    raise OSError(err, "emptying %s" % ctx["table"])
            else:
                fam = socket.AF_INET if ctx["fam"] == 4 else socket.AF_INET6
                for c in {(c["table"], c["chain"]) for c, _ in items}:
                    err = self.nft[ctx["ns"]].flush(fam, *c)
                    if err:
                        raise OSError(err, "flushing %s %s" % c)
        # Nothing of the step is left: nft destroys rules asynchronously, give it time.
        for _ in range(200):
            left = ns.proc_rules()
            if not left:
                break
            time.sleep(0.005)
        else:
            self.bad("proc-left", ctx, items[0][1], "no rule", left)

    def probes(self):
        """Documented rules that a single blob cannot reach: nft regular chains."""
        out = []
        good = pack(F_MAP_ADDR, NFPROTO_IPV4, mina=pad16(bytes([192, 0, 2, 1])), maxa=pad16(bytes([192, 0, 2, 1])))
        ctx = dict(abi="nft", ns="fz", fam=4, table="raw", chain="sub", proto=0, inv=0, rev=0, muts="probe")
        nft = self.nft["fz"]
        # A regular chain of table raw, jumped to from raw's forward hook: the rule runs
        # from FORWARD, which raw does not allow.
        jump = nest(1, G.nla(1, b"immediate\0") + nest(2, G.nla(1, be32(0)) + nest(
            2, nest(2, G.nla(1, be32((1 << 32) - 3)) + G.nla(2, b"sub\0")))))
        jbody = G.nla(1, b"raw\0") + G.nla(2, b"FWD\0") + nest(4, jump)
        e1 = nft.batch([(NFT_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, socket.AF_INET, jbody)])[0]
        e2 = nft.add(socket.AF_INET, [("raw", "sub", Nft.newrule("raw", "sub", good))])[0] if not e1 else None
        nft.flush(socket.AF_INET, "raw", "FWD")
        nft.flush(socket.AF_INET, "raw", "sub")
        out.append("probe jump-then-rule: jump raw FWD -> sub %s, SSNAT rule in sub %s" % (ename(e1), ename(e2)))
        if not e1 and not e2:
            self.bad("probe", ctx, good, "refused: the rule is reached from raw FORWARD", "accepted")
        e3 = nft.add(socket.AF_INET, [("raw", "sub", Nft.newrule("raw", "sub", good))])[0]
        e4 = nft.batch([(NFT_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, socket.AF_INET, jbody)])[0]
        nft.flush(socket.AF_INET, "raw", "FWD")
        nft.flush(socket.AF_INET, "raw", "sub")
        out.append("probe rule-then-jump: SSNAT rule in sub %s, jump raw FWD -> sub %s" % (ename(e3), ename(e4)))
        if not e3 and not e4:
            self.bad("probe", ctx, good, "refused: the jump makes raw FORWARD reach the rule", "accepted")
        return out

    def burst(self, k):
        """k refusals as fast as the kernel takes them: the module's lines about them
        must stay within printk's rate limit (10 per 5 s, and a line saying how many
        were suppressed)."""
        lg = self.legacy[("fz", 4)]
        blob = pack(F_MAP_ADDR | F_MAP_PORT, NFPROTO_IPV4, minp=5000, maxp=4000,
                    mina=pad16(bytes([192, 0, 2, 1])), maxa=pad16(bytes([192, 0, 2, 1])))
        rule = [(HOOK_OUT, lg.entry(xt_target(b"SSNAT", 0, blob), 17))]
        self.kmsg.lines()
        t0 = time.time()
        for _ in range(k):
            err = lg.replace("raw", rule)
            if err != EINVAL:
                self.disagree.append("DISAGREE burst: a reversed port range got %s" % ename(err))
                break
        secs = time.time() - t0
        logged = len(self.kmsg.lines())
        allowed = 12 * (int(secs / 5) + 1)
        print("# burst: %d refusals in %.2fs, %d lines in the kernel log (rate-limited: at most %d)"
              % (k, secs, logged, allowed))
        if logged > allowed:
            self.disagree.append("DISAGREE kernel log not rate-limited: %d lines for %d refusals in %.2fs "
                                 "(at most %d)" % (logged, k, secs, allowed))

    def main(self, count, burst):
        self.kmsg = Kmsg()
        self.burst(burst)
        t0 = time.time()
        next_note = 0
        while self.n["blobs"] < count:
            if self.n["blobs"] >= next_note:
                print("# %d blobs at %.1fs" % (self.n["blobs"], time.time() - t0), flush=True)
                next_note += max(250, count // 10)
            self.step()
        notes = self.probes()
        secs = time.time() - t0
        lines = self.kmsg.lines()
        notes.append("%d refusals reached checkentry; the module logged %d lines" % (self.n["logged"], len(lines)))
        for line in lines:
            if "SSNAT: " in line and not any(m in line for m in KNOWN_MESSAGES):
                self.disagree.append("DISAGREE kernel log line that is no refusal message: %s" % line)
        for ns, g in self.genl.items():
            left = {k: v for k, v in profile_rules(g).items() if v}
            if left:
                self.disagree.append("DISAGREE profiles of %s still counted as used: %s" % (ns, left))
            for name in PROFILES:
                err = g.cmd(G.DEL, G.nla(G.NAME, name + b"\0"))
                if err:
                    self.disagree.append("DISAGREE DEL profile %s in %s: %s" % (name.decode(), ns, err))
        for line in notes:
            print("# " + line)
        for line in self.disagree[:60]:
            print(line)
        if len(self.disagree) > 60:
            print("... and %d more" % (len(self.disagree) - 60))
        print("blobs %(blobs)d accepted %(accepted)d refused %(refused)d logged %(logged)d "
              "readback %(readback)d packets %(packets)d pairs %(pairs)d" % self.n +
              " seconds %.1f seed %d disagreements %d" % (secs, self.seed, len(self.disagree)))
        return 1 if self.disagree else 0


def selftest():
    """The oracle on cases whose verdict abi.rs's own tests state."""
    v4 = lambda fl=F_MAP_ADDR, a=(198, 51, 100, 7), b=None, p=(0, 0), **k: pack(
        fl, NFPROTO_IPV4, minp=p[0], maxp=p[1], mina=pad16(bytes(a)), maxa=pad16(bytes(b or a)), **k)
    cases = [
        (v4(F_MAP_ADDR | F_MAP_PORT, p=(4000, 4000)), 2, 17, None),
        (v4(), 2, 0, None),
        (v4(a=(1, 2, 3, 4), b=(1, 2, 3, 9)), 2, 0, None),
        (v4(a=(1, 2, 3, 9), b=(1, 2, 3, 4)), 2, 0, "reversed addresses"),
        (v4(), 10, 0, "family"),
        (v4(F_MAP_ADDR | F_MAP_PORT, p=(5, 5)), 2, 0, "port needs a protocol"),
        (v4(F_MAP_ADDR | F_MAP_PORT, p=(5, 5)), 2, 47, "port needs a protocol"),
        (v4(F_MAP_ADDR | F_MAP_PORT | 0x8000, p=(1, 1)), 2, 17, "unknown flags"),
        (v4(F_MAP_ADDR | F_MAP_PORT, p=(0, 1)), 2, 17, "port range"),
        (v4(F_MAP_ADDR | F_MAP_PORT, p=(10, 9)), 2, 17, "port range"),
        (v4(F_MAP_ADDR | F_PREFIX, a=(10, 1, 0, 0), b=(10, 1, 255, 255), plen=16), 2, 0, None),
        (v4(F_MAP_ADDR | F_PREFIX, a=(10, 1, 1, 0), b=(10, 1, 255, 255), plen=16), 2, 0, "prefix host bits"),
        (v4(F_MAP_ADDR | F_PREFIX, a=(10, 1, 0, 0), b=(10, 1, 255, 255), plen=33), 2, 0, "prefix length"),
        (pack(0, NFPROTO_IPV4), 2, 17, "nothing to do"),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b"moh"), 2, 0, None),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b"moh"), 10, 0, "family"),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b""), 2, 0, "profile name"),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b"a b"), 2, 0, "profile name"),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b"a" * 32), 2, 0, "profile name"),
        (pack(F_PROFILE, NFPROTO_IPV4, prof=b"moh\0\0x"), 2, 0, "profile name"),
        (pack(F_PROFILE | F_MAP_ADDR, NFPROTO_IPV4, prof=b"moh"), 2, 0, "profile+mapping"),
        (pack(F_PROFILE, NFPROTO_IPV4, minp=1, prof=b"moh"), 2, 0, "profile+mapping"),
        (v4(prof=b"x"), 2, 0, "reserved"),
        (pack(F_MAP_ADDR, NFPROTO_IPV6, mina=bytes.fromhex("20010db8" + "0" * 23 + "1"),
              maxa=bytes.fromhex("20010db8" + "0" * 22 + "ff")), 10, 0, None),
        (pack(F_MAP_ADDR, NFPROTO_IPV6, mina=bytes.fromhex("20010db8" + "0" * 23 + "1"),
              maxa=bytes.fromhex("20010db8000000" + "01" + "0" * 14 + "ff")), 10, 0, "IPv6 range wider than /64"),
    ]
    bad = 0
    for blob, fam, proto, want in cases:
        got = why_invalid(unpack(blob), fam, proto)
        if got != want:
            print("selftest: %s fam %d proto %d: expected %s, got %s" % (blob.hex(), fam, proto, want, got))
            bad += 1
    r = random.Random(1)
    for _ in range(200):
        fam = r.choice([NFPROTO_IPV4, NFPROTO_IPV6])
        b = gen_valid(r, fam)
        if why_invalid(unpack(b), fam, 17):
            print("selftest: generated valid blob refused: %s (%s)" % (b.hex(), why_invalid(unpack(b), fam, 17)))
            bad += 1
            break
    print("selftest: %d cases, %s" % (len(cases), "ok" if not bad else "%d wrong" % bad))
    return 1 if bad else 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["--selftest"]:
        sys.exit(selftest())
    args = {"seed": int(time.time()) & 0xffff, "nat_netns": "fzn", "iface": "fz0", "burst": 300, "watchdog": 1200}
    count = int(a.pop(0))
    while a:
        k = a.pop(0)
        args[k[2:].replace("-", "_")] = a.pop(0)
    args["seed"], args["burst"] = int(args["seed"]), int(args["burst"])
    # A hang shows where it is (every thread's stack on stderr), and ends the run.
    faulthandler.dump_traceback_later(float(args["watchdog"]), exit=True)
    if selftest():
        sys.exit(1)
    sys.exit(Run(args).main(count, args["burst"]))


if __name__ == "__main__":
    main()
