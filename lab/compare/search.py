"""Load and search: one trial at a rate, the RFC 2544 search for the highest loss-free rate, delivery
under overload, and the candidates of a lab measured in alternation.

Loss is counted against the offered load (rate x duration), not against what the generator managed to
send (../shared/LAB.md item 11); frames still in flight when the generator stops count as delivered."""

import json
import statistics
import time
from typing import Callable, NamedTuple

from .harness import GEN_CPU, LB_DLL, SINK_PORT, in_ns, log


class LoadPath(NamedTuple):
    """What a trial needs: where the generator sends from and to, and how delivery is counted. smallest_frame:
    the least frame size the path's packets fit in (66 for UDP over IPv6); a smaller size asked for is raised to it."""
    gen_ns: str
    gen_if: str
    dst_mac: str
    src: str
    dsts: list
    delivered: Callable[[], int]
    smallest_frame: int = 64


def trial(path, rate, size, duration, flows):
    before = path.delivered()
    args = ["taskset", "-c", str(GEN_CPU), "dotnet", LB_DLL, "generate", "--interface", path.gen_if, "--dst-mac", path.dst_mac,
            "--src", path.src, "--flows", str(max(1, flows // len(path.dsts))), "--size", str(size), "--rate", str(int(rate)),
            "--duration", str(duration), "--port", str(SINK_PORT)]
    for d in path.dsts:
        args += ["--dst", d]
    offered = json.loads(in_ns(path.gen_ns, *args, timeout=duration + 60))["offered"]
    # Frames still in flight count as delivered: wait (bounded) until the counters stop moving.
    last, after = -1, path.delivered()
    for _ in range(40):
        if after == last:
            break
        last = after
        time.sleep(0.05)
        after = path.delivered()
    return offered, after - before


def search(path, size, args, label, hint=None):
    """Highest offered rate delivered with less than args.loss % loss, to within 2 %."""
    def passes(rate):
        offered, delivered = trial(path, rate, size, args.duration, args.flows)
        ok = offered > 0 and (offered - delivered) / offered * 100 < args.loss
        log(f"    {label:<24} {int(rate):>9} pps offered {offered:>9} delivered {delivered:>9}  {'pass' if ok else 'loss'}")
        return ok

    if hint:
        lo, hi = 0, None
        rate = hint * 0.85
        if passes(rate):
            lo = rate
            rate = hint * 1.15
            while passes(rate):
                lo = rate
                rate *= 1.3
                if rate > 4_000_000:
                    break
            hi = rate
        else:
            hi = rate
            rate = hint * 0.5
            while rate > 1000 and not passes(rate):
                hi = rate
                rate *= 0.5
            lo = rate if rate > 1000 else 0
    else:
        lo, rate = 0, 50_000
        while passes(rate):
            lo = rate
            rate *= 2
            if rate > 4_000_000:
                break
        hi = rate
    steps = 0
    while steps < args.max_steps and (hi - lo) > 0.02 * hi:
        mid = (lo + hi) / 2
        if passes(mid):
            lo = mid
        else:
            hi = mid
        steps += 1
    return int(lo)


def overload(path, size, args, label, rate, factors=(1.5, 2.0)):
    out = []
    for f in factors:
        results = [trial(path, rate * f, size, args.duration, args.flows) for _ in range(args.overload_trials)]
        delivered = [d / args.duration for _, d in results]
        offered = statistics.median(o for o, _ in results) / args.duration
        log(f"    {label:<24} {f}x: offered {int(offered):>9} pps, delivered {', '.join(str(int(d)) for d in delivered)} pps")
        out.append({"factor": f, "offered": int(offered), "delivered": [int(d) for d in delivered],
                    "median": int(statistics.median(delivered))})
    return out


def measure_pair(rows, mode, size, args, candidates):
    """candidates: list of (impl, label, setup() -> LoadPath, teardown()). Alternates trial by trial, so drift
    on a shared VM hits every candidate alike."""
    results = {impl: [] for impl, *_ in candidates}
    hints = {}
    overloads = {}
    frames = {}  # the frame size each candidate was measured at: size, or its path's smallest frame if larger
    for t in range(args.trials):
        for impl, label, setup, teardown in candidates:
            path = setup()
            try:
                frames[impl] = frame = max(size, path.smallest_frame)
                log(f"  -- {label}, {frame} B, trial {t + 1}/{args.trials}")
                trial(path, 1000, frame, 0.5, args.flows)  # warm-up: ARP/ND, JIT, first flows
                if hasattr(setup, "settle"):
                    setup.settle()  # our engine: until the JIT has recompiled what the warm-up made hot
                value = search(path, frame, args, label, hints.get(impl))
                results[impl].append(value)
                hints[impl] = value
                if t == args.trials - 1:
                    overloads[impl] = overload(path, frame, args, label, statistics.median(results[impl]))
            finally:
                teardown()
    for impl, label, *_ in candidates:
        values = results[impl]
        rows.append({"mode": mode, "impl": impl, "label": label, "size": frames[impl], "trials": values, "min": min(values),
                     "median": int(statistics.median(values)), "max": max(values), "overload": overloads.get(impl, [])})
