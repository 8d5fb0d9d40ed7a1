#!/usr/bin/python3
"""Adds an IPv4 rule with a hand-made SSNAT target blob through libiptc, bypassing the
extension, to see the kernel's own checkentry refuse (or accept) it.

  iptc_raw.py TABLE CHAIN PROTO FLAGS MIN_ADDR MAX_ADDR MIN_PORT MAX_PORT [PREFIX_LEN]

Exit 0 if the kernel took the rule, 1 with the error otherwise. The layout below is
struct ipt_entry / xt_entry_target on x86_64 and ssnat-core/src/abi.rs's SsnatInfo.
"""
import ctypes
import ipaddress
import os
import struct
import sys

table, chain, proto, flags, amin, amax, pmin, pmax = sys.argv[1:9]
plen = int(sys.argv[9]) if len(sys.argv) > 9 else 0


def addr16(a):
    b = ipaddress.ip_address(a).packed
    return b + bytes(16 - len(b))


info = struct.pack("<HBBHH16s16sII32sQ", int(flags, 0), 2, plen, int(pmin), int(pmax),
                   addr16(amin), addr16(amax), 0, 0, b"", 0)
assert len(info) == 88
target = struct.pack("<H29sB", 32 + len(info), b"SSNAT", 0) + info
ip = bytes(16) + bytes(64) + struct.pack("<HBB", int(proto), 0, 0)  # any address, -p PROTO
entry_size = 112
entry = ip + struct.pack("<IHHI", 0, entry_size, entry_size + len(target), 0) + bytes(16) + target
assert len(entry) == 112 + 32 + 88

lib = ctypes.CDLL("libip4tc.so.2", use_errno=True)
lib.iptc_init.restype = ctypes.c_void_p
lib.iptc_init.argtypes = [ctypes.c_char_p]
lib.iptc_append_entry.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
lib.iptc_commit.argtypes = [ctypes.c_void_p]
lib.iptc_strerror.restype = ctypes.c_char_p
lib.iptc_strerror.argtypes = [ctypes.c_int]
h = lib.iptc_init(table.encode())
if not h:
    sys.exit("iptc_init: %s" % lib.iptc_strerror(ctypes.get_errno()).decode())
if not lib.iptc_append_entry(chain.encode(), entry, h):
    sys.exit("iptc_append_entry: %s" % lib.iptc_strerror(ctypes.get_errno()).decode())
if not lib.iptc_commit(h):
    err = ctypes.get_errno()
    print("kernel refused the rule: %s" % os.strerror(err))
    sys.exit(1)
print("kernel accepted the rule")
