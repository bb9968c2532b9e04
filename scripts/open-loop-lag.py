#!/usr/bin/env python3
"""Open-loop lateness of a run directory, per variant (trials merged, histograms added):
late starts (over 1 ms) as a share of operations, and response p50 - service p50 of the
successful operations of the measured phases. Needs `pip install hdrhistogram`.

usage: scripts/open-loop-lag.py RUN_DIR [RUN_DIR ...]
"""
import json
import sys

from hdrh.histogram import HdrHistogram


def merged(groups, field):
    h = HdrHistogram(1, 3_600_000_000, 3)
    for g in groups:
        h.add(HdrHistogram.decode(g[field]))
    return h


for d in sys.argv[1:]:
    r = json.load(open(f"{d}/results.json"))
    measured = {p["name"] for p in r["phases"] if p.get("measured", True)}
    for v in r["variants"]:
        trials = [t for t in r["trials"] if t["variant"] == v["id"] and t["status"] != "failed"]
        groups = [g for t in trials for g in t["groups"]
                  if g["outcome"] == "ok" and g["phase"] in measured]
        if not groups:
            continue
        resp, serv = merged(groups, "response_histogram"), merged(groups, "service_histogram")
        ops = sum(t["operations"] for t in trials)
        late = sum(t["late_starts"] for t in trials)
        timer = trials[0].get("timer", "-")
        cpu = sum(t["evidence"]["cpu"]["harness_s"] for t in trials)
        wall = sum(t["evidence"]["cpu"]["wall_s"] for t in trials)
        print(f"{d}  {v['id']:<45} timer {timer:<8} late {late:>6}/{ops:<6} = {100*late/ops:6.2f} %"
              f"  response p50 {resp.get_value_at_percentile(50):>5} us  service p50 "
              f"{serv.get_value_at_percentile(50):>5} us  difference "
              f"{resp.get_value_at_percentile(50) - serv.get_value_at_percentile(50):>5} us"
              f"  harness CPU {cpu/wall*100:5.1f} % of a core")
