#!/usr/bin/python3
"""Module lifecycle loops of tests/qemu/34-lifecycle.sh, in one process each: the
module is loaded with init_module(2) from a copy read once and unloaded with
delete_module(2), as insmod and rmmod do, without a process per step.

  cycle --ko KO --count N [--rule-every K] [--profile-every M]
        loads and unloads N times. After each load: SSNAT registered for IPv4 and
        IPv6, the generic netlink family there; after each unload: both gone. Every
        M-th cycle creates profiles (left for the unload to free); every K-th adds
        SSNAT rules (backends and families in turn), checks that the unload is
        refused while they exist, deletes them and unloads.
  flush --ko KO --count N [--backends legacy,nft] [--netns NAME]
        with traffic running (see blast): loads, adds a fixed and a --profile rule
        in raw OUTPUT (backends in turn, IPv4 and IPv6 in turn), waits until both
        have rewritten packets, flushes the chain and unloads at once. iptables-legacy destroys the rules
        before the flush returns, so the first unload must succeed; nft_compat
        destroys them from a work item, so the unload is retried (counted).
  blast --seconds S --rate PPS [--stop FILE] [--netns NAME]
        UDP datagrams to 127.0.0.1:9 and [::1]:9, both in turn, PPS a second

Each prints one summary line; exit status 1 with the reason on the first problem.
"""
import argparse
import ctypes
import errno
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genl_raw as G  # noqa: E402

SYS_INIT_MODULE, SYS_DELETE_MODULE = 175, 176  # x86_64
O_NONBLOCK = 0o4000
CLONE_NEWNET = 0x40000000
MOD = "xt_SSNAT"
LIBC = ctypes.CDLL(None, use_errno=True)


def die(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def setns(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        die("setns %s: %s" % (name, os.strerror(ctypes.get_errno())))
    os.close(fd)


def load(image):
    if LIBC.syscall(SYS_INIT_MODULE, image, ctypes.c_ulong(len(image)), b"") != 0:
        die("init_module: %s" % os.strerror(ctypes.get_errno()))


def unload():
    """delete_module(2) as rmmod calls it: 0, or the errno."""
    if LIBC.syscall(SYS_DELETE_MODULE, MOD.encode(), O_NONBLOCK) == 0:
        return 0
    return ctypes.get_errno()


def unload_retrying(seconds):
    """Unloads, retrying while the module is in use; returns the attempts it took."""
    end = time.monotonic() + seconds
    tries = 0
    while True:
        tries += 1
        e = unload()
        if e == 0:
            return tries
        if e != errno.EAGAIN or time.monotonic() > end:
            die("delete_module after %d tries: %s (refcnt %s)" % (tries, os.strerror(e), refcnt()))
        time.sleep(0.02)


def refcnt():
    try:
        with open("/sys/module/%s/refcnt" % MOD) as fh:
            return fh.read().strip()
    except OSError:
        return "gone"


def registered():
    """(IPv4 target, IPv6 target, netlink family) present."""
    out = []
    for f in ("/proc/net/ip_tables_targets", "/proc/net/ip6_tables_targets"):
        with open(f) as fh:
            out.append("SSNAT" in fh.read().split())
    # A dump of the families: asking for SSNAT by name would make the kernel try
    # request_module() (a modprobe) whenever it is not there.
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, G.NETLINK_GENERIC)
    s.settimeout(3)
    body = struct.pack("=BBH", G.CTRL_CMD_GETFAMILY, 1, 0)
    s.send(struct.pack("=IHHII", 16 + len(body), G.GENL_ID_CTRL, G.NLM_F_REQUEST | 0x300, 1, 0) + body)
    names, done = [], False
    while not done:
        d = s.recv(65536)
        i = 0
        while i + 16 <= len(d):
            n, t = struct.unpack_from("=IH", d, i)
            if t in (G.NLMSG_DONE, G.NLMSG_ERROR):
                done = True
                break
            names.append(G.attrs(d[i + 20:i + n]).get(G.CTRL_ATTR_FAMILY_NAME, b"").rstrip(b"\0"))
            i += (n + 3) & ~3
    s.close()
    out.append(b"SSNAT" in names)
    return tuple(out)


def ipt(backend, fam, *args, stdin=None):
    tool = "%s-%s%s" % ("iptables" if fam == 4 else "ip6tables", backend, "-restore" if stdin else "")
    p = subprocess.run([tool, *args], input=stdin.encode() if stdin else None, capture_output=True)
    if p.returncode:
        die("%s %s: %s" % (tool, " ".join(args), p.stderr.decode().strip()))


def new_profile(g, name, fam):
    if fam == 4:
        req = G.ok_mapping(name.encode() + b"\0")
    else:
        a = bytes.fromhex("20010db8009900000000000000000007")
        req = [G.nla(G.NAME, name.encode() + b"\0"), G.nla(G.FAMILY, b"\x0a"), G.nla(G.FLAGS, struct.pack("=H", 1)),
               G.nla(G.MIN_ADDR, a), G.nla(G.MAX_ADDR, a)]
    err = g.cmd(G.NEW, *req)
    if err:
        die("profile NEW %s: %s %s" % (name, os.strerror(-err[0]), err[1]))


RULE = {4: "-A OUTPUT -o lo -p udp --dport 9 -j SSNAT --to-source 192.0.2.1:1000",
        6: "-A OUTPUT -o lo -p udp --dport 9 -j SSNAT --to-source [2001:db8:99::1]:1000"}
PRULE = {4: "-A OUTPUT -o lo -p udp --dport 9 -j SSNAT --profile p4",
         6: "-A OUTPUT -o lo -p udp --dport 9 -j SSNAT --profile p6"}


def cmd_cycle(a):
    with open(a.ko, "rb") as fh:
        image = fh.read()
    combos = [(b, f) for b in ("legacy", "nft") for f in (4, 6)]
    rules = profiles = retries = 0
    t_load = t_unload = t_check = t_rules = 0.0
    start = time.monotonic()
    for i in range(a.count):
        t = time.monotonic()
        load(image)
        t_load += time.monotonic() - t
        t = time.monotonic()
        got = registered()
        t_check += time.monotonic() - t
        if got != (True, True, True):
            die("cycle %d: after load, (IPv4 target, IPv6 target, family) = %s" % (i, got))
        t = time.monotonic()
        if a.profile_every and i % a.profile_every == 0:
            g = G.Genl()
            new_profile(g, "p4", 4)
            new_profile(g, "p6", 6)
            g.s.close()
            profiles += 2
        if a.rule_every and i % a.rule_every == a.rule_every - 1:
            backend, fam = combos[rules % len(combos)]
            rules += 1
            ipt(backend, fam, "--noflush", stdin="*raw\n%s\nCOMMIT\n" % RULE[fam])
            e = unload()
            if e != errno.EAGAIN:
                die("cycle %d: delete_module with an %s IPv%d rule: %s" % (
                    i, backend, fam, os.strerror(e) if e else "succeeded"))
            ipt(backend, fam, "-t", "raw", "-F", "OUTPUT")
        t_rules += time.monotonic() - t
        t = time.monotonic()
        n = unload_retrying(10)
        t_unload += time.monotonic() - t
        retries += n - 1
        if os.path.exists("/sys/module/" + MOD):
            die("cycle %d: /sys/module/%s still there after the unload" % (i, MOD))
        t = time.monotonic()
        got = registered()
        t_check += time.monotonic() - t
        if got != (False, False, False):
            die("cycle %d: after unload, (IPv4 target, IPv6 target, family) = %s" % (i, got))
    el = time.monotonic() - start
    print("%d loads and unloads in %.1f s (load %.0f ms, unload %.0f ms on average; checks %.1f s, "
          "rules and profiles %.1f s in all); %d with rules (unload refused while they existed), "
          "%d profiles freed by unloads; %d unload retries" % (
              a.count, el, 1000 * t_load / a.count, 1000 * t_unload / a.count, t_check, t_rules, rules,
              profiles, retries))


def rule_packets():
    with open("/proc/net/xt_SSNAT") as fh:
        return [int(ln.split()[4]) for ln in fh.read().split("\n")[1:] if ln.strip()]


def cmd_flush(a):
    if a.netns:
        setns(a.netns)
    with open(a.ko, "rb") as fh:
        image = fh.read()
    backends = a.backends.split(",")
    report = {b: [] for b in backends}
    for i in range(a.count):
        # Backends in turn, and families in turn for each.
        b = backends[i % len(backends)]
        fam = (4, 6)[i // len(backends) % 2]
        load(image)
        g = G.Genl()
        new_profile(g, "p%d" % fam, fam)
        g.s.close()
        ipt(b, fam, "--noflush", stdin="*raw\n%s\n%s\nCOMMIT\n" % (RULE[fam], PRULE[fam]))
        # Traffic through both rules before they go.
        end = time.monotonic() + 10
        while True:
            pk = rule_packets()
            if len(pk) == 2 and all(pk):
                break
            if time.monotonic() > end:
                die("round %d (%s, IPv%d): rules' packet counters %s: no traffic through them" % (i, b, fam, pk))
            time.sleep(0.05)
        ipt(b, fam, "-t", "raw", "-F", "OUTPUT")
        # At once.
        t = time.monotonic()
        n = unload_retrying(10)
        report[b].append((n, time.monotonic() - t))
        if b == "legacy" and n != 1:
            die("round %d: the unload right after an iptables-legacy flush was refused %d times" % (i, n - 1))
    print("%d unloads right after a flush under traffic: %s" % (a.count, "; ".join(
        "%s %d, unloaded after %s tries (%.0f ms at most)" % (
            b, len(r), "/".join(str(n) for n, _ in r), 1000 * max(t for _, t in r))
        for b, r in report.items() if r)))


def cmd_blast(a):
    if a.netns:
        setns(a.netns)
    socks = [(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), ("127.0.0.1", 9)),
             (socket.socket(socket.AF_INET6, socket.SOCK_DGRAM), ("::1", 9))]
    data = b"lifecycle" * 4
    n = errs = 0
    start = time.monotonic()
    while time.monotonic() - start < a.seconds and not (a.stop and os.path.exists(a.stop)):
        for _ in range(8):
            s, dst = socks[n % 2]
            try:
                s.sendto(data, dst)
            except OSError:
                errs += 1  # ICMP errors of earlier datagrams come back as errors here
            n += 1
        due = start + n / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
    print("blast: %d datagrams in %.1f s (%d send errors)" % (n, time.monotonic() - start, errs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cycle")
    c.add_argument("--ko", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--rule-every", type=int, default=0)
    c.add_argument("--profile-every", type=int, default=0)
    f = sub.add_parser("flush")
    f.add_argument("--ko", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--backends", default="legacy,nft")
    f.add_argument("--netns")
    b = sub.add_parser("blast")
    b.add_argument("--seconds", type=float, required=True)
    b.add_argument("--rate", type=float, required=True)
    b.add_argument("--stop")
    b.add_argument("--netns")
    a = ap.parse_args()
    {"cycle": cmd_cycle, "flush": cmd_flush, "blast": cmd_blast}[a.cmd](a)


if __name__ == "__main__":
    main()
