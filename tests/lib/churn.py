#!/usr/bin/python3
"""Traffic and churn helpers of tests/qemu/33-churn.sh (netns-loop also serves
tests/qemu/34-lifecycle.sh); stdlib only.

Each datagram carries MAGIC, a flow id and a sequence number, so the receiver can tell
every flow's packets apart whatever their (translated) source, and count losses and
duplicates per flow. The receiver checks every packet as it arrives: IPv4 header and
UDP checksums computed from scratch (ssnat_pkt.verify), and the (source, port) pair
against the flow's expected translations; a pair that takes the address of one
translation and the port of another is counted as torn.

  send --iface IF --dst-mac MAC --flow ID,FAM,SRC,SPORT,DST,DPORT... --rate PPS
       [--seconds S] [--stop FILE] [--after FILE] [--ready FILE] --out FILE
       round robin over the flows at PPS packets a second in all (AF_PACKET frames;
       it starts once FILE --after exists, and makes FILE --ready once the first
       round is sent);
       writes {"sent": {id: n}, "enobufs": n, ...} (a send refused for lack of
       buffers is retried with the same sequence number)
  recv --iface IF --dport N --expect ID=ADDR:PORT[|ADDR:PORT]... --ready FILE
       --stop FILE [--idle S] --out FILE
       captures until FILE exists and nothing came for S seconds; writes per flow
       counts, duplicates, problems, translations seen and their changes
  report --recv FILE --sent FILE... --router FILE [--profile-flows ID,...]
       [--stats FILE --profile NAME [--bulk-profile NAME]] [--proc FILE]
       [--max-pre-router PCT]
       the table of sent / router in / router out / received per flow (router counters
       from `nft -j list counters`: in_ID and out_ID), the profiles' counters and rule
       counts (ssnatctl stats --json), the rules' skip counters; exit 1 on a problem
  flip NAME ADDR:PORT ADDR:PORT SECONDS --out FILE
       genl_raw.py's flip (the profile replaced as fast as the kernel takes it), the
       count written to FILE
  netns-loop --seconds S [--count N] --out FILE [--backends legacy,nft]
       creates network namespaces again and again (a forked child unshares one), each
       with an IPv4 and an IPv6 profile, four SSNAT rules using them or a fixed
       mapping, and one packet through each rule, then lets it go away (the child
       exits) with all of it still in place; for S seconds, or N namespaces

send, recv, flip and netns-loop take --netns NAME (setns into /run/netns/NAME) and
--cpu N (pinned). `churn.py together -- CMD ARGS -- CMD ARGS ...` runs the commands at
the same time, each in a process forked from this one (the guest's Python starts
slowly), and exits 1 if any failed.
"""
import argparse
import ctypes
import errno
import fcntl
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genl_raw as G  # noqa: E402
import ssnat_pkt as P  # noqa: E402

MAGIC = b"CHRN"
PAYLOAD = 32  # MAGIC, flow id (u16), 0 (u16), seq (u32), padding
SOL_PACKET, PACKET_AUXDATA, PACKET_STATISTICS = 263, 8, 6
SO_RCVBUFFORCE = 33
CLONE_NEWNET = 0x40000000


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def parse_flow(spec):
    fid, fam, src, sport, dst, dport = spec.split(",")
    return int(fid), int(fam), src, int(sport), dst, int(dport)


def parse_map(m):
    addr, port = m.rsplit(":", 1)
    return ipaddress.ip_address(addr.strip("[]")).packed, int(port)


def show_map(addr, port):
    a = ipaddress.ip_address(addr)
    return ("[%s]:%d" if a.version == 6 else "%s:%d") % (a, port)


# ---------------------------------------------------------------- sender

class Flow:
    """One flow's frame template; the UDP checksum is the template's sum plus the
    sequence number's two words (the rest of the datagram never changes)."""

    def __init__(self, spec, eth_dst, eth_src):
        self.id, fam, src, sport, dst, dport = spec
        s, d = P.addr_bytes(src), P.addr_bytes(dst)
        ulen = 8 + PAYLOAD
        self.pad = bytes(PAYLOAD - 12)
        self.tag = MAGIC + struct.pack("!HH", self.id, 0)
        etype = P.ETH_P_IP if fam == 4 else P.ETH_P_IPV6
        ip = P.ip_header(fam, 17, s, d, ulen)
        self.head = eth_dst + eth_src + struct.pack("!H", etype) + ip + struct.pack("!HHH", sport, dport, ulen)
        self.base = P.csum_sum(P.pseudo(fam, s, d, 17, ulen) + struct.pack("!HHHH", sport, dport, ulen, 0)
                               + self.tag + bytes(4) + self.pad)
        self.seq = 0

    def frame(self):
        c = (~fold(self.base + (self.seq >> 16) + (self.seq & 0xFFFF))) & 0xFFFF
        return self.head + struct.pack("!H", c or 0xFFFF) + self.tag + struct.pack("!I", self.seq) + self.pad


def cmd_send(a):
    while a.after and not os.path.exists(a.after):
        time.sleep(0.1)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    flows = [Flow(parse_flow(f), P.mac_bytes(a.dst_mac), s.getsockname()[4]) for f in a.flow]
    enobufs = late = 0
    n = 0
    start = t0 = time.monotonic()
    end = start + a.seconds if a.seconds else None
    while True:
        if n % 64 == 0:
            now = time.monotonic()
            if (end and now >= end) or (a.stop and os.path.exists(a.stop)):
                break
        due = t0 + n / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.2:
            # Far behind (the vCPU was busy elsewhere): go on at the pace from here
            # rather than in a burst that only the buffers would see.
            late += 1
            t0 = now - n / a.rate
        f = flows[n % len(flows)]
        try:
            s.send(f.frame())
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            enobufs += 1
            time.sleep(0.001)
            continue
        f.seq += 1
        n += 1
        if n == len(flows) and a.ready:
            open(a.ready, "w").close()
    el = time.monotonic() - start
    out = {"sent": {str(f.id): f.seq for f in flows}, "enobufs": enobufs, "late": late,
           "elapsed": round(el, 2), "rate": round(n / el, 1) if el else 0}
    with open(a.out, "w") as fh:
        json.dump(out, fh)
    print("sent %d packets in %.1f s (%.0f/s), %d refused for buffers, %d times behind" % (
        n, el, out["rate"], enobufs, late))


# ---------------------------------------------------------------- receiver

class Seen:
    def __init__(self, maps):
        self.maps = maps  # [(addr bytes, port)]
        self.count = self.dups = self.bad = self.changes = 0
        self.seqs = bytearray()
        self.by_map = {}
        self.last = None
        self.problems = []

    def problem(self, text):
        self.bad += 1
        if len(self.problems) < 10:
            self.problems.append(text)


def cmd_recv(a):
    expect = {}
    for e in a.expect:
        fid, maps = e.split("=", 1)
        expect[int(fid)] = Seen([parse_map(m) for m in maps.split("|")])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(P.ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    # Past net.core.rmem_max: the checker may lag behind the senders, never drop.
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
    s.bind((a.iface, 0))
    open(a.ready, "w").close()
    other = 0
    last = time.monotonic()
    while True:
        r, _, _ = select.select([s], [], [], 0.5)
        now = time.monotonic()
        if not r:
            if os.path.exists(a.stop) and now - last >= a.idle:
                break
            continue
        data, anc, _, addr = s.recvmsg(2048, socket.CMSG_SPACE(64))
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        pkt = data[14:]
        info = P.parse_ip(pkt)
        if not info or info["proto"] != 17 or len(pkt) < info["l4"] + 8 + 12 or \
                pkt[info["l4"] + 8:info["l4"] + 12] != MAGIC:
            other += 1
            continue
        last = now
        l4 = info["l4"]
        fid, _, seq = struct.unpack_from("!HHI", pkt, l4 + 12)
        f = expect.get(fid)
        if f is None:
            other += 1
            continue
        f.count += 1
        status = 0
        for lvl, typ, val in anc:
            if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
                status = struct.unpack("I", val[:4])[0]
        sport, dport = struct.unpack_from("!HH", pkt, l4)
        what = "flow %d seq %d" % (fid, seq)
        for e in P.verify(info, pkt, bool(status & P.TP_STATUS_CSUMNOTREADY)):
            f.problem("%s: %s (%s)" % (what, e, pkt.hex()))
        if dport != a.dport:
            f.problem("%s: destination port %d" % (what, dport))
        got = (info["src"], sport)
        if got in f.maps:
            f.by_map[got] = f.by_map.get(got, 0) + 1
            if f.last is not None and got != f.last:
                f.changes += 1
            f.last = got
        elif any(got[0] == m[0] for m in f.maps) and any(got[1] == m[1] for m in f.maps):
            f.problem("%s: torn translation %s" % (what, show_map(*got)))
        else:
            f.problem("%s: source %s is none of %s" % (what, show_map(*got),
                                                       ", ".join(show_map(*m) for m in f.maps)))
        if seq >= len(f.seqs):
            f.seqs.extend(bytes(max(seq + 1 - len(f.seqs), 4096)))
        if f.seqs[seq]:
            f.dups += 1
        f.seqs[seq] = 1
    tp_packets, tp_drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    out = {"other": other, "socket_packets": tp_packets, "socket_drops": tp_drops, "flows": {}}
    for fid, f in expect.items():
        top = max((i for i in range(len(f.seqs) - 1, -1, -1) if f.seqs[i]), default=-1) \
            if f.count else -1
        gaps = [i for i in range(top + 1) if not f.seqs[i]][:10]
        out["flows"][str(fid)] = {
            "count": f.count, "unique": f.count - f.dups, "dups": f.dups, "top": top, "gaps": gaps,
            "bad": f.bad, "problems": f.problems, "changes": f.changes,
            "by_map": {show_map(*k): v for k, v in f.by_map.items()}}
    with open(a.out, "w") as fh:
        json.dump(out, fh)
    print("received %d packets of the flows (%d others); capture socket: %d packets, %d dropped" % (
        sum(f.count for f in expect.values()), other, tp_packets, tp_drops))


# ---------------------------------------------------------------- report

def router_counters(path):
    with open(path) as fh:
        d = json.load(fh)
    return {o["counter"]["name"]: o["counter"]["packets"] for o in d["nftables"] if "counter" in o}


def cmd_report(a):
    with open(a.recv) as fh:
        rx = json.load(fh)
    sent, enobufs = {}, 0
    for path in a.sent:
        with open(path) as fh:
            d = json.load(fh)
        sent.update(d["sent"])
        enobufs += d["enobufs"]
    rc = router_counters(a.router)
    errs = []
    print("%-5s %8s %10s %10s %9s %5s  %s" % ("flow", "sent", "router-in", "router-out", "received",
                                             "dups", "translations seen (changes)"))
    pre = 0
    for fid, r in sorted(rx["flows"].items(), key=lambda x: int(x[0])):
        n = sent.get(fid, 0)
        rin, rout = rc.get("in_" + fid, -1), rc.get("out_" + fid, -1)
        print("%-5s %8d %10d %10d %9d %5d  %s (%d)" % (
            fid, n, rin, rout, r["unique"], r["dups"],
            ", ".join("%s x %d" % kv for kv in sorted(r["by_map"].items())), r["changes"]))
        for p in r["problems"]:
            errs.append(p)
        if r["bad"] > len(r["problems"]):
            errs.append("flow %s: %d more problems" % (fid, r["bad"] - len(r["problems"])))
        if r["dups"]:
            errs.append("flow %s: %d duplicates" % (fid, r["dups"]))
        if r["top"] >= n:
            errs.append("flow %s: sequence number %d never sent (%d sent)" % (fid, r["top"], n))
        # Lost at the router or after it: what the router took in and the receiver
        # did not get. (Before the router, SSNAT never saw the packet.)
        if r["unique"] != rin or rout != rin:
            errs.append("flow %s: router took in %d, sent out %d, receiver got %d (first missing: %s)" % (
                fid, rin, rout, r["unique"], r["gaps"][:5]))
        if n == 0 or r["unique"] == 0:
            errs.append("flow %s: no traffic" % fid)
        pre += n - rin
    for fid in (a.profile_flows or "").split(","):
        if fid and (len(rx["flows"][fid]["by_map"]) < 2 or rx["flows"][fid]["changes"] < 2):
            errs.append("flow %s: the profile's replacements did not show in its packets" % fid)
    total = sum(sent.values())
    print("sender: %d packets, %d sends refused for buffers (retried); dropped before the router: %d; "
          "capture socket dropped %d; %d other packets" % (total, enobufs, pre, rx["socket_drops"], rx["other"]))
    if rx["socket_drops"]:
        errs.append("the capture socket dropped %d packets: the counts cannot be trusted" % rx["socket_drops"])
    if pre > total * a.max_pre_router / 100:
        errs.append("%d packets dropped before the router (more than %g%%): pace the senders" % (
            pre, a.max_pre_router))
    if a.stats:
        # ssnatctl stats --json: the profile counted every packet of its flows (it
        # outlives the rules that table replacements make anew), and its rule count
        # came back to what stays.
        with open(a.stats) as fh:
            prof = {p["name"]: p for p in json.load(fh)["profiles"]}
        want = sum(rx["flows"][f]["unique"] for f in a.profile_flows.split(","))
        for name, rules, packets in ((a.profile, 1, want), (a.bulk_profile, 0, 0)):
            if not name:
                continue
            c = prof[name]["counters"]
            skipped = sum(v for k, v in c.items() if k not in ("packets", "bytes"))
            print("profile %s: %d rules, %d packets, %d bytes, %d skipped or tracked" % (
                name, prof[name]["rules"], c["packets"], c["bytes"], skipped))
            if prof[name]["rules"] != rules:
                errs.append("profile %s: %s rules, expected %d" % (name, prof[name]["rules"], rules))
            if c["packets"] != packets or c["bytes"] != packets * (20 + 8 + PAYLOAD) or skipped:
                errs.append("profile %s: counters %s, expected %d packets" % (name, c, packets))
    if a.proc:
        # /proc/net/xt_SSNAT: no rule skipped a packet or saw one tracked.
        with open(a.proc) as fh:
            lines = fh.read().split("\n")
        cols = lines[0].split()
        first = cols.index("tracked")
        for ln in lines[1:]:
            f = ln.split()
            if f and any(int(x) for x in f[first:]):
                errs.append("rule counters: %s" % ln)
    for e in errs[:30]:
        print("  " + e)
    sys.exit(1 if errs else 0)


# ---------------------------------------------------------------- namespaces

def libc():
    return ctypes.CDLL(None, use_errno=True)


def unshare_net():
    if libc().unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


def lo_up():
    s = socket.socket()
    ifr = struct.pack("16sH", b"lo", 0)
    flags = struct.unpack_from("16sH", fcntl.ioctl(s, 0x8913, ifr))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    s.close()


def netns_child(backend, steps):
    """In a new namespace: profiles, rules, a packet through each rule. Appends
    (step, seconds) to steps; returns a problem or None."""
    t = [time.monotonic()]

    def step(name):
        now = time.monotonic()
        steps.append((name, round(now - t[0], 2)))
        t[0] = now

    unshare_net()
    step("unshare")
    lo_up()
    step("lo up")
    g = G.Genl()
    p4 = G.ok_mapping(b"p4\0")
    p6 = [G.nla(G.NAME, b"p6\0"), G.nla(G.FAMILY, b"\x0a"), G.nla(G.FLAGS, struct.pack("=H", 1)),
          G.nla(G.MIN_ADDR, P.addr_bytes("2001:db8:77::1")), G.nla(G.MAX_ADDR, P.addr_bytes("2001:db8:77::1"))]
    for req in (p4, p6):
        err = g.cmd(G.NEW, *req)
        if err:
            return "profile NEW: %s %s" % (os.strerror(-err[0]), err[1])
    step("profiles")
    for fam, rules in ((4, ["--profile p4", "--to-source 192.0.2.1:1000"]),
                       (6, ["--profile p6", "--to-source [2001:db8:77::2]:1000"])):
        text = "*raw\n" + "".join("-A OUTPUT -o lo -p udp --dport 9 -j SSNAT %s\n" % r for r in rules) + "COMMIT\n"
        tool = "%s-%s-restore" % ("iptables" if fam == 4 else "ip6tables", backend)
        p = subprocess.run([tool, "--noflush"], input=text.encode(), capture_output=True)
        if p.returncode:
            return "%s: %s" % (tool, p.stderr.decode().strip())
        step("rules ipv%d" % fam)
    for fam, dst in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.sendto(b"x" * 16, (dst, 9))
        u.close()
    with open("/proc/net/xt_SSNAT") as fh:
        lines = fh.read().split("\n")[1:]
    counts = [int(ln.split()[4]) for ln in lines if ln.strip()]
    if counts != [1, 1, 1, 1]:
        return "rules' packet counters %s, expected four rules with 1 each" % counts
    step("packets")
    return None


def cmd_netns_loop(a):
    backends = a.backends.split(",")
    made = {b: 0 for b in backends}
    errs = []
    slowest = (0, [])
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < a.seconds and not (a.count and i >= a.count):
        b = backends[i % len(backends)]
        i += 1
        rfd, wfd = os.pipe()
        t = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            steps = []
            try:
                msg = netns_child(b, steps)
            except Exception as e:  # noqa: BLE001 (reported by the parent)
                msg = "%s: %s" % (type(e).__name__, e)
            os.write(wfd, json.dumps([msg, steps]).encode())
            os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd) as fh:
            msg, steps = json.loads(fh.read() or '["no answer", []]')
        os.waitpid(pid, 0)
        if time.monotonic() - t > slowest[0]:
            slowest = (time.monotonic() - t, steps)
        if msg:
            errs.append("namespace %d (%s): %s" % (i, b, msg))
            if len(errs) >= 5:
                break
        else:
            made[b] += 1
    out = {"created": sum(made.values()), "by_backend": made, "errors": errs,
           "elapsed": round(time.monotonic() - start, 1),
           "slowest": [round(slowest[0], 1), slowest[1]]}
    with open(a.out, "w") as fh:
        json.dump(out, fh)
    print("%d namespaces (%s) created with 2 profiles and 4 rules each, then destroyed; %d errors; "
          "slowest %.1f s (%s)" % (out["created"], ", ".join("%s %d" % kv for kv in made.items()), len(errs),
                                  slowest[0], ", ".join("%s %g" % tuple(x) for x in slowest[1])))
    for e in errs:
        print("  " + e)
    sys.exit(1 if errs else 0)


def cmd_flip(a):
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        G.flip(a.name, a.a, a.b, a.seconds)
    with open(a.out, "w") as fh:
        fh.write(out.getvalue())
    print("%s profile replacements in %g s" % (out.getvalue().strip(), a.seconds))


def enter(a):
    """--netns and --cpu of a command: this process's namespace and vCPU."""
    if getattr(a, "netns", None):
        fd = os.open("/run/netns/" + a.netns, os.O_RDONLY)
        if libc().setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + a.netns)
        os.close(fd)
    if getattr(a, "cpu", None) is not None:
        os.sched_setaffinity(0, {a.cpu})


def run(ap, handlers, argv):
    """Runs one command, or with `together -- CMD ... -- CMD ...` each command in a
    process of its own (forked: one interpreter start for all), and waits for them;
    the exit status is the worst of theirs."""
    if argv[:2] != ["together", "--"]:
        a = ap.parse_args(argv)
        enter(a)
        handlers[a.cmd](a)
        return
    groups, cur = [], []
    for w in argv[2:] + ["--"]:
        if w == "--":
            groups.append(ap.parse_args(cur))
            cur = []
        else:
            cur.append(w)
    pids = []
    for a in groups:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                enter(a)
                handlers[a.cmd](a)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if not isinstance(e.code, int) and e.code is not None:
                    print(e.code)
            except Exception as e:  # noqa: BLE001 (reported, the status says it)
                print("%s: %s: %s" % (a.cmd, type(e).__name__, e))
                code = 1
            sys.stdout.flush()
            os._exit(code)
        pids.append(pid)
    worst = 0
    for pid in pids:
        worst = max(worst, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    sys.exit(1 if worst else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--iface", required=True)
    s.add_argument("--dst-mac", required=True)
    s.add_argument("--flow", action="append", required=True)
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--seconds", type=float, default=0)
    s.add_argument("--stop")
    s.add_argument("--after", help="start once this file exists")
    s.add_argument("--ready")
    s.add_argument("--out", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--iface", required=True)
    r.add_argument("--dport", type=int, required=True)
    r.add_argument("--expect", action="append", required=True)
    r.add_argument("--ready", required=True)
    r.add_argument("--stop", required=True)
    r.add_argument("--idle", type=float, default=2)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report")
    p.add_argument("--recv", required=True)
    p.add_argument("--sent", action="append", required=True)
    p.add_argument("--router", required=True)
    p.add_argument("--profile-flows")
    p.add_argument("--stats", help="ssnatctl stats --json")
    p.add_argument("--profile", help="the profile of --profile-flows")
    p.add_argument("--bulk-profile", help="a profile only bulk rules used, all deleted")
    p.add_argument("--proc", help="a copy of /proc/net/xt_SSNAT")
    p.add_argument("--max-pre-router", type=float, default=1.0)
    n = sub.add_parser("netns-loop")
    n.add_argument("--seconds", type=float, required=True)
    n.add_argument("--count", type=int, default=0)
    n.add_argument("--backends", default="legacy,nft")
    n.add_argument("--out", required=True)
    f = sub.add_parser("flip")
    f.add_argument("name")
    f.add_argument("a")
    f.add_argument("b")
    f.add_argument("seconds", type=float)
    f.add_argument("--out", required=True)
    for x in (s, r, n, f):
        x.add_argument("--netns", help="run in this named network namespace")
        x.add_argument("--cpu", type=int, help="run on this vCPU only")
    run(ap, {"send": cmd_send, "recv": cmd_recv, "report": cmd_report, "netns-loop": cmd_netns_loop,
             "flip": cmd_flip}, sys.argv[1:])


if __name__ == "__main__":
    main()
