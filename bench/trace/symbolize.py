"""Turns bench/trace.sh's PCs into instruction counts per function (the module's from
its ELF symbols, the kernel's from the guest's /proc/kallsyms), in the order they ran,
and an annotated listing. Usage: symbolize.py OUT MODULE.ko"""
import bisect
import collections
import subprocess
import sys

out, ko = sys.argv[1], sys.argv[2]
text = int(open(out + "/text").read(), 16)
kernel = sorted((int(a, 16), n) for a, t, n, *_ in (l.split() for l in open(out + "/kallsyms"))
                if t in "tTwW")
module = []
for line in subprocess.run(["nm", "-n", "--demangle", ko], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    p = line.split(maxsplit=2)
    if len(p) == 3 and p[1] in "tT" and not p[2].startswith("__pfx_"):
        module.append((int(p[0], 16), p[2]))
listing = {}
for line in subprocess.run(["objdump", "-d", "--no-show-raw-insn", ko], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    a, _, ins = line.partition(":")
    try:
        listing[int(a.strip(), 16)] = ins.strip()
    except ValueError:
        pass


def where(pc):
    if text <= pc < text + (1 << 20):
        i = bisect.bisect(module, (pc - text, "\uffff")) - 1
        return "[module] " + module[i][1]
    i = bisect.bisect(kernel, (pc, "\uffff")) - 1
    return kernel[i][1] if i >= 0 else "?"


pcs = [int(l, 16) for l in open(out + "/pcs")]
runs = []
for pc in pcs:
    w = where(pc)
    if not runs or runs[-1][0] != w:
        runs.append([w, 0])
    runs[-1][1] += 1
total = collections.Counter()
for w, n in runs:
    total[w] += n
print("%d instructions from the target function's entry to its return" % len(pcs))
print()
print("| instructions | function |")
print("| ---: | --- |")
for w, n in total.most_common():
    print("| %d | `%s` |" % (n, w[:110]))
print()
print("In the order they ran:")
for w, n in runs:
    print("  %5d  %s" % (n, w[:110]))
with open(out + "/listing.txt", "w") as f:
    for pc in pcs:
        f.write("%x  %-40s %s\n" % (pc, where(pc)[:40], listing.get(pc - text, "") if text <= pc < text + (1 << 20) else ""))
