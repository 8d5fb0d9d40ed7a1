#!/bin/bash
# Guest entry point: runs one test, records its status and the kernel log.
# Usage: guest-main.sh TEST_SCRIPT OUTDIR
test=$1
export SSNAT_OUT=$2
dmesg -n 1 2>/dev/null || true
dmesg -C 2>/dev/null || true
( cd / && bash "$test" ) >"$SSNAT_OUT/test.log" 2>&1
echo $? >"$SSNAT_OUT/rc"
dmesg >"$SSNAT_OUT/dmesg" 2>&1
sync
poweroff -f 2>/dev/null
