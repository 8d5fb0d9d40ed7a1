#!/usr/bin/python3
"""The PBX's media server of the MOH demo: real RTP, driven by SIPp's call progress.

SIPp (demo/sipp/uac.xml) appends one line per media change of a call to a control file:

    CALL answered CALL-ID P REMOTE-ADDR REMOTE-PORT
    CALL hold CALL-ID
    CALL resume CALL-ID
    CALL bye CALL-ID

This program follows that file and sends, for each call, its talk stream from
LOCAL:P to the provider's media address while the call is answered and not on hold,
and its Music-On-Hold stream from LOCAL:MOH_PORT (one socket shared by every call, as a
media server's MOH source is) to the same address while the call is on hold.
Each stream is RTP version 2, payload type 0 (PCMU), 160-byte payload every 20 ms,
with its own constant SSRC, continuous sequence numbers and timestamp += 160.

When every one of --calls calls has ended it writes --events: per call the negotiated
ports, the times of its media changes (seconds since --capture-start, the epoch time at
which the provider's capture started) and per stream its SSRC, source and packet count.
SIGTERM or SIGINT stops it early: it still writes --events, then exits with status 1.
"""

import argparse
import json
import math
import os
import random
import signal
import socket
import struct
import sys
import time

PACKET_INTERVAL = 0.020  # seconds of audio per packet
SAMPLES_PER_PACKET = 160  # PCMU at 8000 Hz
PAYLOAD_TYPE_PCMU = 0


def ulaw(sample):
    """Encode one 16-bit linear sample as G.711 mu-law (the PCMU payload byte)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def tone_payloads(frequency, amplitude):
    """One second of a sine tone as 50 PCMU payloads of 160 bytes each."""
    samples = bytes(
        ulaw(round(amplitude * math.sin(2 * math.pi * frequency * n / 8000))) for n in range(8000)
    )
    return [samples[i : i + SAMPLES_PER_PACKET] for i in range(0, 8000, SAMPLES_PER_PACKET)]


TALK_PAYLOADS = tone_payloads(300, 2000)  # a quiet voice-like tone while talking
MOH_PAYLOADS = tone_payloads(440, 8000)  # the "music": a louder A


class Stream:
    """One RTP stream: a sending socket, a destination, its SSRC, sequence and timestamp."""

    def __init__(self, kind, sock, dst, payloads, rng):
        self.kind = kind
        self.sock = sock
        self.src = "%s:%d" % sock.getsockname()
        self.dst = dst
        self.payloads = payloads
        self.ssrc = rng.getrandbits(32)
        self.seq = rng.getrandbits(16)
        self.timestamp = rng.getrandbits(32)
        self.first_seq = self.seq
        self.sent = 0
        self.active = False
        self.marker = True
        self.periods = []  # [start, stop] times of sending, seconds since capture start

    def start(self, now):
        """Start (or restart) sending; the first packet of a talk spurt has the marker bit."""
        assert not self.active, f"{self.kind} stream to {self.dst} already started"
        self.active = True
        self.marker = True
        self.periods.append([round(now, 6), None])

    def stop(self, now):
        """Stop sending (a stream that was never started is left as it is)."""
        if self.active:
            self.active = False
            self.periods[-1][1] = round(now, 6)

    def send(self):
        """Send the next packet of the stream."""
        header = struct.pack(
            "!BBHII",
            0x80,  # version 2, no padding, no extension, no CSRC
            (0x80 if self.marker else 0) | PAYLOAD_TYPE_PCMU,
            self.seq,
            self.timestamp,
            self.ssrc,
        )
        payload = self.payloads[self.sent % len(self.payloads)]
        self.sock.sendto(header + payload, self.dst)
        self.marker = False
        self.sent += 1
        self.seq = (self.seq + 1) & 0xFFFF
        self.timestamp = (self.timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF

    def account(self):
        """What events.json records of the stream."""
        return {
            "ssrc": self.ssrc,
            "src": self.src,
            "dst": f"{self.dst[0]}:{self.dst[1]}",
            "first_seq": self.first_seq,
            "sent": self.sent,
            "periods": self.periods,
        }


class Call:
    """One call's media: its talk stream and its MOH stream, and its media events."""

    def __init__(self, number, call_id, local, port, dst, moh_sock, rng):
        self.number = number
        self.call_id = call_id
        self.port = port
        self.dst = dst
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((local, port))
        except OSError as err:
            sys.exit(f"rtp.py: call {number}: cannot bind its media port {local}:{port}: {err}")
        self.talk = Stream("talk", sock, dst, TALK_PAYLOADS, rng)
        self.moh = Stream("moh", moh_sock, dst, MOH_PAYLOADS, rng)
        self.events = []
        self.ended = False

    def event(self, name, now):
        """Apply one media event of SIPp's: answered, hold, resume or bye."""
        self.events.append({"event": name, "t": round(now, 6)})
        if name == "answered":
            self.talk.start(now)
        elif name == "hold":
            self.talk.stop(now)
            self.moh.start(now)
        elif name == "resume":
            self.moh.stop(now)
            self.talk.start(now)
        elif name == "bye":
            self.talk.stop(now)
            self.moh.stop(now)
            self.talk.sock.close()
            self.ended = True
        else:
            raise ValueError(f"unknown event {name!r}")

    def account(self, public):
        """What events.json records of the call."""
        return {
            "call": self.number,
            "call_id": self.call_id,
            "pbx_media": f"{public}:{self.port}",
            "provider_media": f"{self.dst[0]}:{self.dst[1]}",
            "events": self.events,
            "streams": {"talk": self.talk.account(), "moh": self.moh.account()},
        }


class Control:
    """Follows the control file that SIPp appends to; yields its complete lines."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self):
        """The lines added since the last call (an incomplete last line waits for its end)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *complete, self.partial = (self.partial + data).split(b"\n")
        return [line.decode() for line in complete if line.strip()]


def parse_args():
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--control", required=True, help="file SIPp appends the media events to")
    p.add_argument("--calls", type=int, required=True, help="stop after this many calls ended")
    p.add_argument("--local", required=True, help="the media server's (private) address")
    p.add_argument("--public", required=True, help="the PBX's public address (its SDP's c=)")
    p.add_argument("--moh-port", type=int, required=True, help="the MOH source port")
    p.add_argument("--capture-start", type=float, required=True, help="epoch time of time 0")
    p.add_argument("--events", required=True, help="the events.json to write")
    p.add_argument("--mode", required=True, help="the demo's mode, recorded in --events")
    p.add_argument("--seed", type=int, default=1, help="seed of the SSRCs and first sequences")
    return p.parse_args()


def main():
    """Follow the control file, send the streams on a 20 ms clock, write events.json."""
    args = parse_args()
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    rng = random.Random(args.seed)
    moh_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moh_sock.bind((args.local, args.moh_port))
    control = Control(args.control)
    calls = {}
    print(f"rtp.py: ready, MOH source {args.local}:{args.moh_port}", flush=True)
    tick = time.monotonic()
    while not stop and not (len(calls) == args.calls and all(c.ended for c in calls.values())):
        now = time.time() - args.capture_start
        for line in control.lines():
            fields = line.split()
            number, name, call_id = int(fields[0]), fields[1], fields[2]
            if name == "answered":
                assert number not in calls, f"call {number} answered twice"
                port, raddr, rport = int(fields[3]), fields[4], int(fields[5])
                calls[number] = Call(number, call_id, args.local, port, (raddr, rport), moh_sock, rng)
            call = calls[number]
            assert call.call_id == call_id, f"call {number}: Call-ID {call_id} != {call.call_id}"
            call.event(name, now)
            print(f"rtp.py: {now:8.3f} s call {number} {name}", flush=True)
        for call in calls.values():
            for stream in (call.talk, call.moh):
                if stream.active:
                    stream.send()
        tick += PACKET_INTERVAL
        delay = tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:  # late (a slow guest): keep the pace from now on rather than sending a burst
            tick = time.monotonic()
    now = time.time() - args.capture_start
    for call in calls.values():
        call.talk.stop(now)
        call.moh.stop(now)
    account = {
        "mode": args.mode,
        "capture_start": args.capture_start,
        "pbx_public": args.public,
        "pbx_private": args.local,
        "moh_source": f"{args.local}:{args.moh_port}",
        "complete": not stop,
        "calls": [calls[n].account(args.public) for n in sorted(calls)],
    }
    tmp = args.events + ".tmp"
    with open(tmp, "w") as f:
        json.dump(account, f, indent=1)
    os.replace(tmp, args.events)
    if stop:
        sys.exit(f"rtp.py: stopped by signal {stop[0]} with {len(calls)} of {args.calls} calls seen")
    print(f"rtp.py: all {args.calls} calls ended, wrote {args.events}", flush=True)


if __name__ == "__main__":
    main()
