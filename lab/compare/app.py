"""What applications feel: wrk through the VIP to a lab's web service, served by our engines, with the
engines' CPU time and the bytes that entered the balancer (or the nodes)."""

import re

from .harness import GEN_CPU, Engine, in_ns, log, read_int, wait_for


def wrk(client_ns, url, seconds):
    out = in_ns(client_ns, "taskset", "-c", str(GEN_CPU), "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", url, timeout=seconds + 60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50_ms": latency(50), "p99_ms": latency(99), "requests": requests,
            "errors": int(errors.group(1)) if errors else 0}


def rx_bytes(ns, devs):
    return sum(read_int(ns, f"/sys/class/net/{d}/statistics/rx_bytes") for d in devs)


def app_row(mode, impl, label, lab, engines, byte_counters, seconds):
    cpu0 = sum(e.cpu_seconds() for e in engines)
    b0 = sum(f() for f in byte_counters)
    w = wrk(lab["LAB_CLIENT_NS"], f"http://{lab['LAB_VIP']}/", seconds)
    cpu = sum(e.cpu_seconds() for e in engines) - cpu0
    b = sum(f() for f in byte_counters) - b0
    log(f"    {label}: {w['rps']:.0f} req/s, p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, "
        f"engine CPU {cpu:.2f} s, {b} bytes in, {w['errors']} non-2xx")
    return {"mode": mode, "impl": impl, "label": label, **w, "cpu_s": round(cpu, 2), "duration_s": seconds, "bytes_balancer": b}


def measure_app(args, apps, lab, mode, label, configs, ready, byte_counters):
    """What applications feel: wrk through the VIP to the lab's web service, served by our engines
    (configs: (namespace, config file) per engine) once ready(engines) holds."""
    log(f"  -- what applications feel: wrk through the VIP, lb {mode.upper()}")
    engines = []
    try:
        for ns, config in configs:
            engines.append(Engine(ns, config))
        wait_for(f"the {mode} web engines", lambda: ready(engines), 60)
        wrk(lab["LAB_CLIENT_NS"], f"http://{lab['LAB_VIP']}/", 1)  # warm-up
        apps.append(app_row(mode, f"lb-{mode}", label, lab, engines, byte_counters, args.app_seconds))
    finally:
        for e in engines:
            e.stop()
