#!/usr/bin/python3
"""What the provider's border controller received in a run of demo/moh.sh.

Reads OUTDIR/provider.pcap and OUTDIR/events.json. From the SIP in the capture (as it
left the router, after NAT) it learns each call by its Call-ID: the PBX's media address
and port of the SDP offer (c=, m=audio), the provider's media address and port of the
answer, and the hold periods (re-INVITE a=sendonly until re-INVITE a=sendrecv); these
must agree with what events.json (rtp.py's account of the same run) says.

Then every RTP packet that reached a call's provider media port is checked: whether it
came from the negotiated PBX address and port (the border controller accepts only
those: symmetric RTP), whether the sequence numbers of each stream (source, SSRC) are
continuous, whether its UDP checksum is right, and whether each stream rtp.py sent
arrived whole and at the right time (MOH only while SIPp had the call on hold, talk only
while not, TOLERANCE seconds allowed at each edge).

A held call's audio path is intact when its MOH arrived whole, from the negotiated
source, in time, and no packet of the call came from another source, was lost, out of
sequence or had a bad checksum. Exit status: 0 if every held call's path was intact,
1 if not, 2 if the run's files are missing or disagree with each other. With
--expect-problem the exit status is 0 only if the run shows exactly the problem of
demo/moh.sh's MODE problem instead: every held call's MOH arrived whole and in time,
but all of it from a source other than the negotiated one, while the talk streams were
intact.
"""

import argparse
import collections
import json
import os
import struct
import sys

from scapy.layers.inet import IP, UDP
from scapy.utils import PcapReader

TOLERANCE = 1.0  # seconds allowed between SIPp's hold and resume and rtp.py's switch
SIP_PORT = 5060
RTP_PAYLOAD_SIZE = 160
PAYLOAD_TYPE_PCMU = 0


class RunError(Exception):
    """The run's files are missing, unreadable or inconsistent."""


def udp_checksum(ip):
    """'ok', 'zero' (no checksum sent) or 'bad': the UDP checksum of the IPv4 packet ip."""
    raw = bytes(ip)
    ihl = (raw[0] & 0x0F) * 4
    total = struct.unpack("!H", raw[2:4])[0]
    udp = raw[ihl:total]
    if udp[6:8] == b"\0\0":
        return "zero"
    data = raw[12:20] + struct.pack("!BBH", 0, 17, len(udp)) + udp
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return "ok" if s == 0xFFFF else "bad"


def parse_sip(payload):
    """(start line, {lower-case header: value}, body) of a SIP message, or None."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not (lines[0].endswith("SIP/2.0") or lines[0].startswith("SIP/2.0 ")):
        return None
    compact = {"i": "call-id", "l": "content-length", "c": "content-type"}
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip().lower()
            headers.setdefault(compact.get(name, name), value.strip())
    return lines[0], headers, body


def parse_sdp(body):
    """(connection address, audio port, direction) of an SDP body, or None without m=audio."""
    addr = port = None
    direction = "sendrecv"
    for line in body.splitlines():
        if line.startswith("c=IN IP4 "):
            addr = line.split()[2]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
        elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive") and line.startswith("a="):
            direction = line[2:]
    return (addr, port, direction) if port is not None else None


def endpoint(addr, port):
    """The usual text of an address and port."""
    return f"{addr}:{port}"


class CallSip:
    """What the capture's SIP says of one call."""

    def __init__(self, call_id):
        self.call_id = call_id
        self.pbx_media = None  # the offer's c= and m=audio port (after NAT)
        self.provider_media = None  # the answer's
        self.holds = []  # [start, end] of each hold, capture times
        self.bye = None
        self.seen = set()  # (CSeq, method or status) of the messages seen: retransmissions are skipped

    def request(self, t, method, cseq, sdp):
        """An INVITE or BYE from the PBX side, at capture time t."""
        if method == "BYE":
            self.bye = t
            if self.holds and self.holds[-1][1] is None:
                self.holds[-1][1] = t
            return
        if sdp is None:
            raise RunError(f"Call-ID {self.call_id}: INVITE (CSeq {cseq}) without an audio SDP")
        media = endpoint(sdp[0], sdp[1])
        if self.pbx_media is None:
            self.pbx_media = media
        elif media != self.pbx_media:
            raise RunError(f"Call-ID {self.call_id}: re-INVITE moves the PBX media from {self.pbx_media} to {media}")
        held = sdp[2] in ("sendonly", "inactive") or sdp[0] == "0.0.0.0"
        if held and not (self.holds and self.holds[-1][1] is None):
            self.holds.append([t, None])
        elif not held and self.holds and self.holds[-1][1] is None:
            self.holds[-1][1] = t

    def answer(self, sdp):
        """A 200 OK to an INVITE from the provider."""
        if sdp is None:
            raise RunError(f"Call-ID {self.call_id}: 200 OK to an INVITE without an audio SDP")
        media = endpoint(sdp[0], sdp[1])
        if self.provider_media is None:
            self.provider_media = media
        elif media != self.provider_media:
            raise RunError(f"Call-ID {self.call_id}: the provider moved its media from {self.provider_media} to {media}")


class StreamStats:
    """One received RTP stream (source, SSRC): its packets and sequence continuity."""

    def __init__(self):
        self.count = 0
        self.gaps = 0  # sequence numbers missing
        self.misordered = 0  # duplicates and packets older than their predecessor
        self.last_seq = None
        self.times = []

    def add(self, t, seq):
        """One packet of the stream, in capture order."""
        if self.last_seq is not None:
            step = (seq - self.last_seq) & 0xFFFF
            if step == 0 or step >= 0x8000:
                self.misordered += 1
            elif step > 1:
                self.gaps += step - 1
        if self.last_seq is None or 0 < ((seq - self.last_seq) & 0xFFFF) < 0x8000:
            self.last_seq = seq
        self.count += 1
        self.times.append(t)


def read_capture(path):
    """The UDP datagrams of the capture: (time, src, sport, dst, dport, payload, checksum)."""
    datagrams = []
    try:
        reader = PcapReader(path)
    except (OSError, EOFError) as err:
        raise RunError(f"cannot read {path}: {err}") from err
    with reader:
        for pkt in reader:
            if IP in pkt and UDP in pkt[IP] and not pkt[IP].flags.MF and pkt[IP].frag == 0:
                ip, udp = pkt[IP], pkt[IP][UDP]
                datagrams.append(
                    (float(pkt.time), ip.src, udp.sport, ip.dst, udp.dport, bytes(udp.payload), udp_checksum(ip))
                )
    return datagrams


def learn_calls(datagrams):
    """{Call-ID: CallSip} from the SIP of the capture, in the order of their first INVITE."""
    calls = {}
    for t, src, sport, dst, dport, payload, _ in datagrams:
        if SIP_PORT not in (sport, dport):
            continue
        msg = parse_sip(payload)
        if msg is None:
            raise RunError(f"not a SIP message: UDP {endpoint(src, sport)} -> {endpoint(dst, dport)} at {t}")
        start, headers, body = msg
        call_id = headers.get("call-id")
        cseq = headers.get("cseq", "").split()
        if call_id is None or len(cseq) != 2:
            raise RunError(f"SIP message without Call-ID or CSeq: {start!r}")
        sdp = parse_sdp(body) if "application/sdp" in headers.get("content-type", "") else None
        if start.startswith("SIP/2.0 "):
            status = start.split()[1]
            key = (cseq[0], status)
            if call_id in calls and key not in calls[call_id].seen:
                calls[call_id].seen.add(key)
                if status == "200" and cseq[1] == "INVITE":
                    calls[call_id].answer(sdp)
            continue
        method = start.split()[0]
        call = calls.setdefault(call_id, CallSip(call_id))
        if (cseq[0], method) not in call.seen:
            call.seen.add((cseq[0], method))
            if method in ("INVITE", "BYE"):
                call.request(t, method, cseq[0], sdp)
    return calls


def parse_rtp(payload):
    """(payload type, sequence number, SSRC) of an RTP v2 packet, or None."""
    if len(payload) < 12 or payload[0] >> 6 != 2:
        return None
    _, mpt, seq, _, ssrc = struct.unpack("!BBHII", payload[:12])
    return mpt & 0x7F, seq, ssrc


def in_any(t, periods, before=0.0, after=0.0):
    """Whether t lies in one of the [start, end] periods, widened by before and after."""
    return any(start - before <= t <= end + after for start, end in periods)


def load_events(outdir):
    """events.json of the run."""
    path = os.path.join(outdir, "events.json")
    try:
        with open(path) as f:
            events = json.load(f)
    except (OSError, ValueError) as err:
        raise RunError(f"cannot read {path}: {err}") from err
    if not events.get("complete"):
        raise RunError(f"{path}: rtp.py was stopped before every call ended")
    return events


def cross_check(sip, events, tolerance):
    """The capture's calls, paired with events.json's: [(event call, CallSip)]."""
    start = events["capture_start"]
    by_id = {c["call_id"]: c for c in events["calls"]}
    unknown = sorted(set(sip) - set(by_id))
    missing = sorted(set(by_id) - set(sip))
    if unknown or missing:
        raise RunError(f"Call-IDs in the capture only: {unknown}; in events.json only: {missing}")
    pairs = []
    for ev in events["calls"]:
        s = sip[ev["call_id"]]
        n = ev["call"]
        for what, theirs, ours in (
            ("PBX media", ev["pbx_media"], s.pbx_media),
            ("provider media", ev["provider_media"], s.provider_media),
        ):
            if theirs != ours:
                raise RunError(f"call {n}: {what} is {ours} in the capture's SDP but {theirs} in events.json")
        if s.bye is None or any(end is None for _, end in s.holds):
            raise RunError(f"call {n}: the capture has no BYE or no resume of a hold")
        switches = [e for e in ev["events"] if e["event"] in ("hold", "resume")]
        sip_times = [t - start for hold in s.holds for t in hold]
        if len(switches) != len(sip_times):
            raise RunError(f"call {n}: {len(s.holds)} holds in the capture, events.json has {len(switches)} holds and resumes")
        for e, t in zip(switches, sip_times):
            if abs(e["t"] - t) > tolerance:
                raise RunError(f"call {n}: {e['event']} at {e['t']:.3f} s in events.json, re-INVITE at {t:.3f} s")
        pairs.append((ev, s))
    return pairs


def call_ranges(numbers):
    """'call 3' or 'calls 1-3, 7': the call numbers, compactly."""
    numbers = sorted(numbers)
    parts, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return ("call " if len(numbers) == 1 else "calls ") + ", ".join(parts)


def check_call(ev, s, datagrams, start, tolerance):
    """The account of one call: counts, streams, the faults found, its per-packet times."""
    addr, port = s.provider_media.rsplit(":", 1)
    holds = [[a - start, b - start] for a, b in s.holds]
    kinds = {st["ssrc"]: kind for kind, st in ev["streams"].items()}
    sent = {kind: st["sent"] for kind, st in ev["streams"].items()}
    right = wrong = right_hold = wrong_hold = bad_sum = zero_sum = malformed = 0
    wrong_sources = collections.Counter()
    streams = collections.defaultdict(StreamStats)
    received = collections.Counter()
    kind_sources = collections.defaultdict(collections.Counter)
    mistimed = collections.Counter()
    packets = []  # (time, from the right source)
    for t, src, sport, dst, dport, payload, csum in datagrams:
        if dst != addr or dport != int(port):
            continue
        t -= start
        source = endpoint(src, sport)
        ok_source = source == s.pbx_media
        held = in_any(t, holds)
        packets.append((t, ok_source))
        if ok_source:
            right += 1
            right_hold += held
        else:
            wrong += 1
            wrong_hold += held
            wrong_sources[source] += 1
        bad_sum += csum == "bad"
        zero_sum += csum == "zero"
        rtp = parse_rtp(payload)
        if rtp is None or rtp[0] != PAYLOAD_TYPE_PCMU or len(payload) != 12 + RTP_PAYLOAD_SIZE:
            malformed += 1
            continue
        _, seq, ssrc = rtp
        streams[(source, ssrc)].add(t, seq)
        kind = kinds.get(ssrc, "unknown")
        received[kind] += 1
        kind_sources[kind][source] += 1
        if kind == "moh" and not in_any(t, holds, tolerance, tolerance):
            mistimed["moh"] += 1
        if kind == "talk" and in_any(t, [[a + tolerance, b - tolerance] for a, b in holds]):
            mistimed["talk"] += 1
    faults = []
    for kind in ("talk", "moh"):
        if received[kind] != sent[kind]:
            faults.append(f"{sent[kind] - received[kind]} of {sent[kind]} {kind} packets lost")
        if mistimed[kind]:
            faults.append(f"{mistimed[kind]} {kind} packets {'outside' if kind == 'moh' else 'during'} the hold")
    moh_wrong = sorted(src for src in kind_sources["moh"] if src != s.pbx_media)
    if holds and sent["moh"] == 0:
        faults.append("no MOH sent while on hold")
    if moh_wrong:
        faults.append(f"MOH arrived from {', '.join(moh_wrong)}, not from the negotiated address and port")
    talk_wrong = sorted(src for src in kind_sources["talk"] if src != s.pbx_media)
    if talk_wrong:
        faults.append(f"talk arrived from {', '.join(talk_wrong)}")
    if received["unknown"]:
        faults.append(f"{received['unknown']} packets of streams rtp.py did not send")
    gaps = sum(st.gaps for st in streams.values())
    misordered = sum(st.misordered for st in streams.values())
    for count, what in ((gaps, "sequence numbers missing"), (misordered, "packets out of sequence"),
                        (bad_sum, "bad UDP checksums"), (zero_sum, "UDP checksums 0 (rtp.py sends none)"),
                        (malformed, "packets not RTP PCMU of 160 bytes")):
        if count:
            faults.append(f"{count} {what}")
    account = {
        "call": ev["call"],
        "call_id": ev["call_id"],
        "pbx_media": s.pbx_media,
        "provider_media": s.provider_media,
        "holds": [[round(a, 3), round(b, 3)] for a, b in holds],
        "right_source": right,
        "wrong_source": wrong,
        "right_source_during_hold": right_hold,
        "wrong_source_during_hold": wrong_hold,
        "wrong_sources": dict(wrong_sources),
        "streams": [
            {"source": src, "ssrc": ssrc, "kind": kinds.get(ssrc, "unknown"), "packets": st.count,
             "sent": sent.get(kinds.get(ssrc), 0), "gaps": st.gaps, "misordered": st.misordered}
            for (src, ssrc), st in sorted(streams.items(), key=lambda kv: kv[1].times[0])
        ],
        "sequence_gaps": gaps,
        "bad_checksums": bad_sum,
        "zero_checksums": zero_sum,
        "faults": faults,
        # the problem of MODE problem exactly: only the MOH's source is wrong, all of it
        "only_moh_source_wrong": bool(holds) and sent["moh"] > 0
        and sum(kind_sources["moh"][src] for src in moh_wrong) == sent["moh"]
        and all(f.startswith("MOH arrived from") for f in faults),
    }
    return account, packets


def analyse(outdir, tolerance=TOLERANCE):
    """The report of a run's directory, and per call number its packets (time, right source)."""
    events = load_events(outdir)
    pcap = os.path.join(outdir, "provider.pcap")
    datagrams = read_capture(pcap)
    sip = learn_calls(datagrams)
    start = events["capture_start"]
    accounts, packets = [], {}
    for ev, s in cross_check(sip, events, tolerance):
        account, pkts = check_call(ev, s, datagrams, start, tolerance)
        accounts.append(account)
        packets[ev["call"]] = pkts
    media = {c["provider_media"] for c in accounts}
    stray = sum(
        1 for _, _, sport, dst, dport, _, _ in datagrams
        if SIP_PORT not in (sport, dport) and endpoint(dst, dport) not in media
    )
    held = [c for c in accounts if c["holds"]]
    reasons = collections.defaultdict(list)
    for c in held:
        for fault in c["faults"]:
            reasons[fault].append(c["call"])
    if not held:
        reasons["no call was put on hold"] = []
    if stray:
        reasons[f"{stray} UDP packets to no call's media port"] = []
    report = {
        "outdir": outdir,
        "mode": events.get("mode"),
        "capture": {"file": pcap, "udp_packets": len(datagrams),
                    "sip_messages": sum(1 for d in datagrams if SIP_PORT in (d[2], d[4])), "stray": stray},
        "calls": accounts,
        "intact": not reasons,
        "reasons": [f"{call_ranges(calls)}: {r}" if calls else r for r, calls in reasons.items()],
        "problem_shown": bool(held) and not stray and all(c["only_moh_source_wrong"] for c in held),
    }
    return report, packets


def render(report):
    """The report as lines of text for a person."""
    cap = report["capture"]
    lines = [f"provider capture {cap['file']}: {cap['udp_packets']} UDP packets, {cap['sip_messages']} SIP messages, "
             f"{len(report['calls'])} calls (mode {report['mode']})"]
    for c in report["calls"]:
        holds = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in c["holds"]) or "never"
        wrong = ", ".join(f"{src} x{n}" for src, n in c["wrong_sources"].items())
        lines += [
            f"call {c['call']} (Call-ID {c['call_id']}): PBX media {c['pbx_media']} -> provider {c['provider_media']}, on hold {holds}",
            f"  during hold: {c['right_source_during_hold']:4d} from the right source, {c['wrong_source_during_hold']:4d} from wrong ones",
            f"  overall:     {c['right_source']:4d} from the right source, {c['wrong_source']:4d} from wrong ones"
            + (f" ({wrong})" if wrong else ""),
        ]
        for st in c["streams"]:
            lines.append(f"  {st['kind']:4s} stream SSRC {st['ssrc']:08x} from {st['source']}: "
                         f"{st['packets']}/{st['sent']} packets, {st['gaps']} sequence gaps")
        lines.append(f"  bad UDP checksums: {c['bad_checksums'] + c['zero_checksums']}")
    verdict = "yes" if report["intact"] else f"no ({'; '.join(report['reasons'])})"
    lines.append(f"every held call's audio path was intact: {verdict}")
    return lines


def main():
    """Check a run, print the account, exit 0 iff what was expected was shown."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir", help="the OUTDIR of demo/moh.sh")
    p.add_argument("--json", metavar="OUT", help="also write the account as JSON to OUT")
    p.add_argument("--expect-problem", action="store_true",
                   help="exit 0 iff the run shows the problem (MOH of every held call from a wrong source)")
    p.add_argument("--tolerance", type=float, default=TOLERANCE, help="seconds allowed at hold and resume")
    args = p.parse_args()
    try:
        report, _ = analyse(args.outdir, args.tolerance)
    except RunError as err:
        print(f"provider_check: {err}", file=sys.stderr)
        sys.exit(2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    lines = render(report)
    if args.expect_problem:
        shown = "yes" if report["problem_shown"] else "no"
        lines.insert(-1, f"the problem was shown (every held call's MOH, and only it, from a wrong source): {shown}")
    print("\n".join(lines))
    sys.exit(0 if (report["problem_shown"] if args.expect_problem else report["intact"]) else 1)


if __name__ == "__main__":
    main()
