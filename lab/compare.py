#!/usr/bin/python3
"""Side-by-side lab comparison: our DR, NAT and CLUSTERIP against their in-kernel peers.

Run through ./lab/compare.sh (which installs packages and builds first). Needs root.

    ./lab/compare.sh [--quick] [--trials N] [--sizes 64,1500] [--loss 0.5] [--duration S]
                     [--out DIR] [--publish] [--only dr,dr6,nat,nat6,clusterip] [--ipv6]
    ./lab/compare.sh --profile lb-dr|nft-netdev-dr|lb-dr6|nft-netdev-dr6 [--sizes 1500] [--rate 250000] [--seconds 4] [--out DIR]

For each lab (built once each: the DR lab with a generator arm, the two-armed NAT lab, the three-node
CLUSTERIP lab) it measures, RFC 2544 style, the highest rate delivered with less than --loss % loss
(binary search on the offered rate, several trials, min/median/max), the rate delivered under 1.5x and
2x that load, then what an application feels (wrk through the VIP), and for CLUSTERIP how many
established flows a membership change breaks. Searches of ours and of the peer alternate trial by trial
so drift on a shared VM hits both alike; the peer runs with our engine stopped.

IPv6 (opt-in: it doubles the DR and NAT labs' pps searches): --ipv6 adds to the DR lab's alternation the same
three over IPv6 (kernel IPv6 forwarding, nftables netdev DR on ip6, our DR6), from the generator's 2001:db8:3::2
to the servers' IPv6 addresses or VIP6, and to the NAT lab's the same two (nftables DNAT in an ip6 table, our
NAT66), from the client's 2001:db8:2::2 to VIP6; --only dr6 or --only nat6 measures those alone. An IPv6 frame
is at least 66 bytes (Ethernet, the 40-byte header, UDP, FCS), so at --sizes 64 the IPv6 rows are 66-byte frames.

Placement (../shared/LAB.md item 7): the generator (`lb generate`) is pinned to CPU 0; the device under
test's receive processing (RPS) and our engine are on CPU 1. Receivers count at the real servers'
interfaces (rx_packets, with the test traffic dropped at their netdev ingress) or, for CLUSTERIP, with
an nftables counter at the nodes' IP input (what reached the stack). Loss is counted against the offered
load (rate x duration), not against what the generator managed to send.

--profile: where the device under test's CPU goes. It builds the DR lab, sets up that candidate as the
comparison does, offers it a steady load and samples DUT_CPU with `perf record`, then prints the samples by
thread, by object and by symbol (perf.data stays in the output directory).

This file parses the command line and runs the chosen labs; the parts are in lab/compare/ (one module per
lab and per job, listed in lab/compare/__init__.py).
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lab", "lib"))
import report  # noqa: E402  (lab/lib/report.py: table, CSV, SVG, Markdown)
from compare import clusterip, dr, harness, nat, results  # noqa: E402  (lab/compare/, next to this file)
from compare.harness import log  # noqa: E402
from compare.profile import profile  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one trial, 64-byte frames only, short steps: under 3 minutes")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--sizes", default=None, help="frame sizes (default 64,1500; 1500 with --profile)")
    ap.add_argument("--loss", type=float, default=0.5, help="loss threshold in percent")
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per trial")
    ap.add_argument("--flows", type=int, default=1020)
    ap.add_argument("--app-seconds", type=int, default=8, help="wrk run per mode (0: skip)")
    ap.add_argument("--churn-flows", type=int, default=300, help="flows in the membership-change run (0: skip)")
    ap.add_argument("--only", default="dr,nat,clusterip", help="labs: dr, dr6 (the DR lab over IPv6), nat, nat6 (the NAT lab over IPv6), clusterip")
    ap.add_argument("--ipv6", action="store_true", help="DR and NAT: also the IPv6 rows (as --only dr6, nat6), in the same alternation")
    ap.add_argument("--scrape", action="store_true", help="DR: also our engine with its /metrics scraped every second (the scrape's cost)")
    ap.add_argument("--xdp", action="store_true", help="DR and NAT: also our engine on the AF_XDP port (io: af_xdp), in the same alternation")
    ap.add_argument("--out", default=None)
    ap.add_argument("--publish", action="store_true", help="also copy the results to benchmarks/results and RESULTS.md")
    ap.add_argument("--profile", choices=("lb-dr", "nft-netdev-dr", "lb-dr6", "nft-netdev-dr6"), help="profile that DR candidate with perf instead of comparing")
    ap.add_argument("--rate", type=int, default=250000, help="--profile: offered pps")
    ap.add_argument("--seconds", type=int, default=4, help="--profile: seconds sampled")
    args = ap.parse_args()
    args.sizes = [int(s) for s in (args.sizes or ("1500" if args.profile else "64,1500")).split(",")]
    args.max_steps = 8
    args.overload_trials = 2
    if args.quick:
        args.trials, args.sizes, args.duration, args.max_steps, args.overload_trials = 1, [64], 0.5, 3, 1
        args.app_seconds, args.churn_flows = min(args.app_seconds, 2), min(args.churn_flows, 60)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = os.path.abspath(args.out or os.path.join(ROOT, "lab", "results", f"{'profile' if args.profile else 'compare'}-{stamp}"))
    os.makedirs(args.out, exist_ok=True)
    harness.open_logs(args.out)

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every lab's finally: tears it down.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    if args.profile:
        profile(args)
        return

    meta = results.machine()
    meta.update({"loss_pct": args.loss, "trials": args.trials, "duration_s": args.duration, "quick": args.quick, "flows": args.flows,
                 "command": "./lab/compare.sh " + " ".join(sys.argv[1:])})
    log(f"== {meta['date']} commit {meta['commit']}, kernel {meta['kernel']}, {meta['cores']} cores ({meta['cpu']})")
    log(f"== placement: {meta['placement']}; loss < {args.loss} %, {args.duration} s per trial, {args.trials} trials, "
        f"sizes {args.sizes}, {args.flows} flows")
    rows, apps, churn = [], [], []
    started = time.monotonic()
    only = set(args.only.split(","))
    unknown = only - {"dr", "dr6", "nat", "nat6", "clusterip"}
    if unknown:
        ap.error(f"--only: unknown {', '.join(sorted(unknown))} (dr, dr6, nat, nat6, clusterip)")
    if args.ipv6 and "dr" in only:
        only.add("dr6")
    if args.ipv6 and "nat" in only:
        only.add("nat6")
    if "dr" in only or "dr6" in only:
        dr.measure(args, rows, apps, ipv4="dr" in only, ipv6="dr6" in only)
    if "nat" in only or "nat6" in only:
        nat.measure(args, rows, apps, ipv4="nat" in only, ipv6="nat6" in only)
    if "clusterip" in only:
        clusterip.measure(args, rows, apps, churn)
    meta["elapsed_s"] = round(time.monotonic() - started)
    document = {"meta": meta, "pps": rows, "app": apps, "ratios": results.ratios(rows), "membership_change": churn}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(document, f, indent=1)
    report.render(document, args.out)
    print(report.text_table(document))
    print(f"results: {args.out} (results.json, results.csv, results.svg, results.md); {meta['elapsed_s']} s")
    if args.publish:
        results.publish(args.out)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
