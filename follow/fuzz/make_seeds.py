#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes seeds/sip/*: whole calls from ../tests/sip/ in the fuzz target's input format
(see fuzz_targets/sip.rs). Run from this folder: python3 make_seeds.py"""
import os

def sip(name, edits=()):
    t = open(os.path.join("..", "tests", "sip", name)).read()
    for a, b in edits:
        t = t.replace(a, b)
    t = t.replace("\r\n", "\n").replace("\n", "\r\n")
    head, body = t.split("\r\n\r\n", 1)
    head = head.replace(": auto", ": %d" % len(body))
    return (head + "\r\n\r\n" + body).encode()

IN, OUT = 0, 1
def seq(first, steps):
    out = bytes([first])
    parts = []
    for side, name, edits, op, secs in steps:
        ctl = (secs << 3) | (op << 1) | side
        parts.append(bytes([ctl]) + (sip(name, edits) if name else b""))
    return out + b"~~~".join(parts)

def s(side, name, edits=(), op=0, secs=1):
    return (side, name, edits, op, secs)

seeds = {
    "outbound": seq(1, [s(IN, "out-invite.sip"), s(OUT, "out-100.sip"), s(OUT, "out-180.sip"),
        s(OUT, "out-200.sip"), s(IN, "out-ack.sip"), s(IN, "out-reinvite-hold.sip"),
        s(OUT, "out-200-hold.sip"), s(OUT, "out-reinvite-move.sip"), s(IN, "out-200-move.sip"),
        s(IN, "out-bye-in.sip")]),
    "outbound-noto": seq(0, [s(IN, "out-invite.sip"), s(OUT, "out-200.sip"), s(OUT, "out-bye-out.sip")]),
    "inbound-cancel": seq(1, [s(OUT, "in-invite.sip"), s(IN, "in-183.sip"), s(OUT, "in-cancel.sip")]),
    "inbound-busy": seq(1, [s(OUT, "in-invite.sip"), s(IN, "in-183.sip"), s(IN, "in-486.sip")]),
    "inbound-answer": seq(1, [s(OUT, "in-invite.sip"), s(IN, "in-183.sip"), s(IN, "in-200.sip"),
        s(IN, None, op=3, secs=31), s(IN, "in-200.sip", secs=31)]),
    "v6": seq(8, [s(IN, "v6-invite.sip"), s(OUT, "v6-200.sip")]),
    "v6-mismatch": seq(10, [s(IN, "v6-invite.sip"), s(OUT, "v6-200.sip")]),
    "steal": seq(1, [s(IN, "out-invite.sip"), s(OUT, "out-200.sip"),
        s(IN, "out-invite.sip", [("2b1c3d4e", "ffffffff"), ("12000", "12010")]),
        s(OUT, "out-200.sip", [("2b1c3d4e", "ffffffff")]),
        s(IN, "out-bye-in.sip"), s(IN, "out-bye-in.sip", [("2b1c3d4e", "ffffffff")])]),
    "evict": seq(1, [s(IN, "out-invite.sip", [("2b1c3d4e", c), ("27000", p)]) for c, p in
        [("a", "27002"), ("b", "27004"), ("c", "27006"), ("d", "27008")]] +
        [s(OUT, "out-200.sip", [("2b1c3d4e", c), ("27000", p)]) for c, p in
        [("a", "27002"), ("b", "27004"), ("c", "27006"), ("d", "27008")]]),
}
os.makedirs(os.path.join("seeds", "sip"), exist_ok=True)
for name, data in seeds.items():
    open(os.path.join("seeds", "sip", name), "wb").write(data)
