"""The run's document beyond the measured rows: the machine it ran on, the ratios against the peers (with
their targets), and publishing to benchmarks/."""

import datetime
import os
import platform
import re
import shutil

from .harness import DUT_CPU, GEN_CPU, ROOT, run


def ratios(rows):
    by = {(r["impl"], r["size"]): r for r in rows}
    out = []
    for size in sorted({r["size"] for r in rows}):
        for ours, peer, target in (("lb-dr", "kernel-forwarding", 0.6), ("lb-dr", "nft-netdev-dr", 0.65), ("lb-nat", "nft-dnat", 0.65),
                                   ("lb-clusterip", "nft-clusterip", None),
                                   # Issue 17's targets for the AF_XDP port.
                                   ("lb-dr-xdp", "lb-dr", 1.3), ("lb-dr-xdp", "nft-netdev-dr", 0.9), ("lb-nat-xdp", "nft-dnat", 1.0),
                                   # IPv6 against its IPv6 peers (the same frame size): reported, no target set yet.
                                   ("lb-dr6", "kernel-forwarding6", None), ("lb-dr6", "nft-netdev-dr6", None), ("lb-nat6", "nft-dnat6", None)):
            if (ours, size) in by and (peer, size) in by and by[(peer, size)]["median"]:
                value = by[(ours, size)]["median"] / by[(peer, size)]["median"]
                out.append({"name": f"{by[(ours, size)]['label']} / {by[(peer, size)]['label']} ({size} B)", "value": round(value, 3),
                            "target": target, "met": None if target is None else value >= target})
        for impl in ("lb-dr", "lb-dr6", "lb-nat", "lb-nat6", "lb-clusterip", "lb-dr-xdp", "lb-nat-xdp"):
            r = by.get((impl, size))
            two = next((o for o in (r or {}).get("overload", []) if o["factor"] == 2.0), None)
            if r and two and r["median"]:
                value = two["median"] / r["median"]
                target = 0.7 if impl == "lb-dr" else 0.9 if impl in ("lb-dr-xdp", "lb-nat-xdp") else None
                out.append({"name": f"{r['label']} at 2x / its loss-free ({size} B)", "value": round(value, 3), "target": target,
                            "met": None if target is None else value >= target})
    return out


def machine():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
        cpu = m.group(1) if m else ""
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], check=False).strip()
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], check=False).strip()
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": commit + ("-dirty" if dirty else ""), "kernel": platform.release(), "cores": os.cpu_count(), "cpu": cpu,
            "placement": f"generator CPU {GEN_CPU}; device under test (receive via RPS, kernel path or engine) CPU {DUT_CPU}"}


def publish(out):
    """benchmarks/results/ gets the files; benchmarks/RESULTS.md gets the tables between its compare markers."""
    dest = os.path.join(ROOT, "benchmarks", "results")
    os.makedirs(dest, exist_ok=True)
    for name in ("results.json", "results.csv", "results.svg", "results.md"):
        shutil.copy(os.path.join(out, name), os.path.join(dest, name))
    page = os.path.join(ROOT, "benchmarks", "RESULTS.md")
    begin, end = "<!-- compare:begin -->", "<!-- compare:end -->"
    with open(os.path.join(out, "results.md")) as f:
        section = f.read().replace("](results.svg)", "](results/results.svg)").replace("## Comparison results", "### Latest run", 1)
    with open(page) as f:
        text = f.read()
    if begin in text and end in text:
        text = text[:text.index(begin) + len(begin)] + "\n" + section.strip() + "\n" + text[text.index(end):]
        with open(page, "w") as f:
            f.write(text)
    print(f"published to {dest} and {page}")
