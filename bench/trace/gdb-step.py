# gdb -batch -x gdb-step.py, with OUT and FN_OFF (the traced function's offset in the
# module's .text) in the environment: waits for the guest, stops at the function's
# first instruction, single-steps until it returns, and writes every PC to $OUT/pcs.
# QEMU's gdbstub steps with interrupts and timers masked: the trace is the packet's.
import os
import time

import gdb

out = os.environ["OUT"]
deadline = time.time() + 600
while not os.path.exists(out + "/ready"):
    if time.time() > deadline or os.path.exists(out + "/failed"):
        raise SystemExit("the guest did not get ready (see guest.log)")
    time.sleep(0.2)
text = int(open(out + "/text").read(), 16)
gdb.execute("set pagination off")
gdb.execute("target remote :%s" % os.environ.get("GDB_PORT", "1234"))
gdb.execute("hbreak *0x%x" % (text + int(os.environ["FN_OFF"], 16)))
open(out + "/go", "w").close()
gdb.execute("continue")
sp = int(gdb.parse_and_eval("$sp"))
ret = int(gdb.parse_and_eval("*(unsigned long *)$sp"))
pcs = []
while len(pcs) < 100000:
    pc = int(gdb.parse_and_eval("$pc"))
    if pc == ret and int(gdb.parse_and_eval("$sp")) > sp:
        break
    pcs.append(pc)
    gdb.execute("stepi", to_string=True)
with open(out + "/pcs", "w") as f:
    f.writelines("%x\n" % pc for pc in pcs)
gdb.execute("delete")
open(out + "/traced", "w").close()
gdb.execute("detach")
