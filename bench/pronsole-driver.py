#!/usr/bin/python3
"""Drives Printrun's pronsole (its own do_connect/do_load/do_print, i.e. printcore's sender) to print a
file to a port and reports the streaming time and this process's CPU time (all threads, printcore's reader
and sender included) as JSON. Used by bench/bench.ts."""
import json, os, sys, time
from printrun.pronsole import pronsole

port, baud, path = sys.argv[1], sys.argv[2], sys.argv[3]
p = pronsole()
p.do_connect(f"{port} {baud}")
deadline = time.time() + 15
while not (p.p and p.p.online):
    if time.time() > deadline:
        print(json.dumps({"error": "pronsole did not come online"})); sys.exit(1)
    time.sleep(0.05)
time.sleep(0.5)  # let pronsole's own connect chatter (M105/M115) settle
p.do_load(path)
t0 = time.time()
cpu0 = time.process_time()
p.do_print("")
while not p.p.printing and time.time() - t0 < 5: time.sleep(0.005)
while p.p.printing: time.sleep(0.005)
dt = time.time() - t0
cpu = time.process_time() - cpu0
print(json.dumps({"seconds": dt, "lines": len(p.fgcode), "cpu": cpu}), flush=True)
os._exit(0)  # pronsole's reader/sender threads are not daemons; do not wait for them
