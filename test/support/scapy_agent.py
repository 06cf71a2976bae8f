#!/usr/bin/env python3
"""A long-lived scapy process inside one VM namespace (scapy takes a second to import, so
one process serves a whole test file). Reads one JSON command per stdin line and answers one
JSON line on stdout:

  {"op": "send", "frames": ["Ether(...)/IP(...)/..."], "iface": "eth0"}   -> {"ok": true}
  {"op": "sniff_start", "id": "x", "filter": "<bpf>", "lfilter": "<python expr on p>"}
                                                                          -> {"ok": true}
  {"op": "sniff_stop", "id": "x", "wait": 0.5}   -> {"ok": true, "count": n, "summaries": [...]}

Frames are scapy expressions evaluated with scapy's names in scope (test code only).
"""
import json
import sys
import threading
import time

from scapy.all import *  # noqa: F401,F403
from scapy.all import AsyncSniffer, conf, sendp

conf.verb = 0
NAMES = dict(globals())
sniffers = {}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def handle(cmd):
    op = cmd["op"]
    iface = cmd.get("iface", "eth0")
    if op == "send":
        for expr in cmd["frames"]:
            sendp(eval(expr, NAMES), iface=iface, verbose=False)
        return {"ok": True}
    if op == "sniff_start":
        ready = threading.Event()
        lf = cmd.get("lfilter")
        lfilter = eval("lambda p: " + lf, NAMES) if lf else None
        s = AsyncSniffer(
            iface=iface,
            filter=cmd.get("filter") or None,
            lfilter=lfilter,
            store=True,
            started_callback=ready.set,
        )
        s.start()
        ready.wait(5)
        sniffers[cmd["id"]] = s
        return {"ok": True}
    if op == "sniff_stop":
        s = sniffers.pop(cmd["id"])
        time.sleep(float(cmd.get("wait", 0.5)))
        s.stop()
        pkts = s.results or []
        return {"ok": True, "count": len(pkts), "summaries": [p.summary() for p in pkts]}
    raise ValueError("unknown op %r" % op)


reply({"ok": True, "ready": True})
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        reply(handle(json.loads(line)))
    except Exception as e:  # report, keep serving
        reply({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
