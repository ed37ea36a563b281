#!/usr/bin/python3
"""Side-by-side lab comparison: our DR, NAT and CLUSTERIP against their in-kernel peers.

Run through ./lab/compare.sh (which installs packages and builds first). Needs root.

    ./lab/compare.sh [--quick] [--trials N] [--sizes 64,1500] [--loss 0.5] [--duration S]
                     [--out DIR] [--publish] [--only dr,nat,clusterip]
    ./lab/compare.sh --profile lb-dr|nft-netdev-dr [--sizes 1500] [--rate 250000] [--seconds 4] [--out DIR]

For each lab (built once each: the DR lab with a generator arm, the two-armed NAT lab, the three-node
CLUSTERIP lab) it measures, RFC 2544 style, the highest rate delivered with less than --loss % loss
(binary search on the offered rate, several trials, min/median/max), the rate delivered under 1.5x and
2x that load, then what an application feels (wrk through the VIP), and for CLUSTERIP how many
established flows a membership change breaks. Searches of ours and of the peer alternate trial by trial
so drift on a shared VM hits both alike; the peer runs with our engine stopped.

Placement (../shared/LAB.md item 7): the generator (`lb generate`) is pinned to CPU 0; the device under
test's receive processing (RPS) and our engine are on CPU 1. Receivers count at the real servers'
interfaces (rx_packets, with the test traffic dropped at their netdev ingress) or, for CLUSTERIP, with
an nftables counter at the nodes' IP input (what reached the stack). Loss is counted against the offered
load (rate x duration), not against what the generator managed to send.

--profile: where the device under test's CPU goes. It builds the DR lab, sets up that candidate as the
comparison does, offers it a steady load and samples DUT_CPU with `perf record`, then prints the samples by
thread, by object and by symbol (perf.data stays in the output directory).
"""

import argparse
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPOLOGY = os.path.join(ROOT, "lab", "lib", "topology.sh")
LB_DLL = os.environ.get("LB_DLL", os.path.join(ROOT, "src", "LoadBalancer.Cli", "bin", "Release", "net10.0", "lb.dll"))
sys.path.insert(0, os.path.join(ROOT, "lab", "lib"))
import report  # noqa: E402  (lab/lib/report.py: table, CSV, SVG)

GEN_CPU, DUT_CPU = 0, 1
SEED = "0x5eed"
SINK_PORT = 9
LOG = None  # file object for everything the tools print
ENGINE_LOG = None  # where every engine's output goes (set in main)


def log(message):
    print(message, flush=True)
    if LOG:
        LOG.write(message + "\n")
        LOG.flush()


def run(args, timeout=60, check=True, stdin=None):
    """Runs a command, bounded in time; returns stdout. Its stderr goes to the run's log."""
    r = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if LOG and r.stderr:
        LOG.write(r.stderr)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.stdout


def in_ns(ns, *args, timeout=60, check=True, stdin=None):
    return run(["ip", "netns", "exec", ns, *args], timeout=timeout, check=check, stdin=stdin)


def nft(ns, script):
    in_ns(ns, "nft", "-f", "-", stdin=script)


def read_int(ns, path):
    return int(in_ns(ns, "cat", path).strip())


# ---- labs ----------------------------------------------------------------------------------------

class Lab:
    """One lab from lab/lib/topology.sh, with its LAB_* variables; torn down by down()."""

    def __init__(self, builder, nodes, generator=False):
        self.prefix = "lc" + secrets.token_hex(3)
        env_file = f"/tmp/{self.prefix}.env"
        script = f"set -e; {builder} {self.prefix} {nodes}"
        if generator:
            script += f"; lab_add_generator {self.prefix}"
        script += f"; env -0 > {env_file}"
        log(f"== building {builder} {self.prefix}")
        try:
            self.sh(script, timeout=300)
            with open(env_file, "rb") as f:
                pairs = [p.split(b"=", 1) for p in f.read().split(b"\0") if b"=" in p]
        finally:
            if os.path.exists(env_file):
                os.remove(env_file)
        self.env = {k.decode(): v.decode() for k, v in pairs if k.startswith(b"LAB_")}

    def __getitem__(self, key):
        return self.env[key]

    @property
    def hosts(self):
        """(namespace, interface, address) per real server; in a CLUSTERIP lab the nodes (LAB_SERVER_* = LAB_NODE_*)."""
        return list(zip(*(self.env[k].split() for k in ("LAB_SERVER_NS", "LAB_SERVER_IFS", "LAB_SERVER_ADDRS"))))

    def sh(self, commands, timeout=60, check=True):
        """Runs bash commands with lab/lib/topology.sh sourced."""
        return run(["bash", "-c", f"source {TOPOLOGY}; {commands}"], timeout=timeout, check=check)

    def write_config(self, name, writer, *args):
        """An engine config from one of topology.sh's writers (they count the lab's hosts themselves)."""
        path = os.path.join(self["LAB_DIR"], name)
        self.sh(" ".join([writer, self.prefix, *map(str, args), path]))
        return path

    def down(self):
        self.sh(f"lab_down {self.prefix}", timeout=120, check=False)


def mac_of(ns, dev):
    return in_ns(ns, "cat", f"/sys/class/net/{dev}/address").strip()


def steer_receive_to_dut(ns, dev):
    """RPS: the device under test's receive processing on DUT_CPU."""
    in_ns(ns, "sh", "-c", f"echo {1 << DUT_CPU:x} > /sys/class/net/{dev}/queues/rx-0/rps_cpus")


# ---- our engine ----------------------------------------------------------------------------------

class Engine:
    """`lb run` in a namespace, pinned to DUT_CPU. The pid is the engine's own (ip netns exec and taskset exec)."""

    def __init__(self, ns, config):
        self.socket = lab_socket(config)
        self.out = open(ENGINE_LOG, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(DUT_CPU), "dotnet", LB_DLL, "run",
                                      "--config", config], stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def status(self):
        r = subprocess.run(["dotnet", LB_DLL, "status", "--socket", self.socket, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=20)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def lab_socket(config):
    with open(config) as f:
        return re.search(r"^control_socket:\s*(\S+)", f.read(), re.M).group(1)


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def backends_active(engine):
    s = engine.status()
    return s is not None and all(b["state"] == "active" for svc in s["services"] for b in svc["backends"])


def cluster_settled(engines, nodes, quorum=True):
    """Every engine answers and sees that many nodes alive in every service; with quorum, also has quorum
    and holds back no UDP bucket (a fresh cluster takes new UDP only one UDP timeout after it settles)."""
    for e in engines:
        s = e.status()
        if s is None:
            return False
        for svc in s["services"]:
            if sum(n["alive"] for n in svc["nodes"]) != nodes:
                return False
            if quorum and (not svc.get("quorum") or svc["transition"]["udp_held_buckets"] != 0):
                return False
    return True


# ---- load and search -----------------------------------------------------------------------------

class LoadPath(NamedTuple):
    """What a trial needs: where the generator sends from and to, and how delivery is counted."""
    gen_ns: str
    gen_if: str
    dst_mac: str
    src: str
    dsts: list
    delivered: Callable[[], int]


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
    """candidates: list of (impl, label, setup() -> LoadPath, teardown()). Alternates trial by trial."""
    results = {impl: [] for impl, *_ in candidates}
    hints = {}
    overloads = {}
    for t in range(args.trials):
        for impl, label, setup, teardown in candidates:
            log(f"  -- {label}, {size} B, trial {t + 1}/{args.trials}")
            path = setup()
            try:
                trial(path, 1000, size, 0.5, args.flows)  # warm-up: ARP, JIT, first flows
                value = search(path, size, args, label, hints.get(impl))
                results[impl].append(value)
                hints[impl] = value
                if t == args.trials - 1:
                    overloads[impl] = overload(path, size, args, label, statistics.median(results[impl]))
            finally:
                teardown()
    for impl, label, *_ in candidates:
        values = results[impl]
        rows.append({"mode": mode, "impl": impl, "label": label, "size": size, "trials": values, "min": min(values),
                     "median": int(statistics.median(values)), "max": max(values), "overload": overloads.get(impl, [])})


# ---- application level ---------------------------------------------------------------------------

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


# ---- balancer labs (DR and NAT): the sink service, the balancer's side, our engine ---------------

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def sink_servers(servers):
    """Each real server drops the test traffic at netdev ingress (it answers nothing) after its rx counter."""
    for ns, dev, _ in servers:
        nft(ns, f"""table netdev sink {{
  chain in {{ type filter hook ingress device "{dev}" priority 0; policy accept; udp dport {SINK_PORT} counter drop; }}
}}""")


def server_counter(servers):
    return lambda: sum(read_int(ns, f"/sys/class/net/{dev}/statistics/rx_packets") for ns, dev, _ in servers)


def prepare_balancer(lab, in_if, out_if):
    """The servers sink the test traffic; the balancer filters no reverse path, sends no redirects and does
    its receive processing for in_if on DUT_CPU. Returns in_if's MAC (where the generator sends) and the
    servers' delivered counter."""
    b = lab["LAB_BALANCER_NS"]
    sink_servers(lab.hosts)
    in_ns(b, "sysctl", "-qw", *(f"net.ipv4.conf.{dev}.{key}=0" for key in ("rp_filter", "send_redirects") for dev in ("all", in_if, out_if)))
    steer_receive_to_dut(b, in_if)
    return mac_of(b, in_if), server_counter(lab.hosts)


def sink_config(lab, mode, in_if, out_if, addrs):
    """Our engine's config for the sink service (UDP to SINK_PORT on the VIP) in dr or nat mode."""
    backends = "".join(f"      - {{name: rs{i + 1}, address: {a}}}\n" for i, a in enumerate(addrs))
    return write(os.path.join(lab["LAB_DIR"], f"compare-{mode}.yaml"),
                 f"workers: 1\ncontrol_socket: {lab['LAB_DIR']}/compare.sock\nservices:\n  - name: sink\n    vip: {lab['LAB_VIP']}\n"
                 f"    port: {SINK_PORT}\n    protocol: udp\n    mode: {mode}\n    interface: {in_if}\n    backend_interface: {out_if}\n"
                 f"    backends:\n{backends}")


def engine_candidate(ns, config, path):
    """Our engine as a candidate of measure_pair: (setup, teardown). Set up means every backend active."""
    engine = None

    def on():
        nonlocal engine
        engine = Engine(ns, config)
        wait_for("the engine's backends", lambda: backends_active(engine), 60)
        return path

    def off():
        engine.stop()

    return on, off


# ---- DR lab: kernel forwarding, nftables netdev DR, our DR ---------------------------------------

def dr_candidates(lab):
    """The DR lab's candidates for measure_pair (the generator arm in, the LAN out): kernel IP forwarding,
    nftables netdev DR and ours."""
    b, vip = lab["LAB_BALANCER_NS"], lab["LAB_VIP"]
    in_if, out_if = lab["LAB_BALANCER_GEN_IF"], lab["LAB_BALANCER_IF"]
    servers = lab.hosts
    bmac, delivered = prepare_balancer(lab, in_if, out_if)
    outmac = mac_of(b, out_if)
    smacs = [mac_of(ns, dev) for ns, dev, _ in servers]

    def path(dsts):
        return LoadPath(lab["LAB_GEN_NS"], lab["LAB_GEN_IF"], bmac, lab["LAB_GEN_ADDR"], dsts, delivered)

    def forwarding_on():
        in_ns(b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        return path([a for _, _, a in servers])

    def forwarding_off():
        in_ns(b, "sysctl", "-qw", "net.ipv4.ip_forward=0")

    def nft_dr_on():
        mapping = ", ".join(f"{i} : {m}" for i, m in enumerate(smacs))
        nft(b, f"""table netdev lbpeer {{
  chain in {{
    type filter hook ingress device "{in_if}" priority -500; policy accept;
    ip daddr {vip} udp dport {SINK_PORT} ether saddr set {outmac} ether daddr set jhash ip saddr . udp sport mod {len(smacs)} seed {SEED} map {{ {mapping} }} fwd to "{out_if}"
  }}
}}""")
        return path([vip])

    def nft_dr_off():
        in_ns(b, "nft", "delete", "table", "netdev", "lbpeer", check=False)

    config = sink_config(lab, "dr", in_if, out_if, [a for _, _, a in servers])
    return [
        ("kernel-forwarding", "kernel IP forwarding", forwarding_on, forwarding_off),
        ("nft-netdev-dr", "nftables netdev DR", nft_dr_on, nft_dr_off),
        ("lb-dr", "lb DR", *engine_candidate(b, config, path([vip]))),
    ]


def dr_lab(args, rows, apps):
    lab = Lab("lab_up", 2, generator=True)
    try:
        candidates = dr_candidates(lab)
        for size in args.sizes:
            measure_pair(rows, "dr", size, args, candidates)
        if args.app_seconds:
            b, out_if = lab["LAB_BALANCER_NS"], lab["LAB_BALANCER_IF"]
            measure_app(args, apps, lab, "dr", "lb DR", [(b, lab.write_config("compare-dr-web.yaml", "lab_write_dr_config"))],
                        lambda engines: backends_active(engines[0]), [lambda: rx_bytes(b, [out_if])])
    finally:
        lab.down()


def profile(args):
    """One DR candidate under a steady load while perf samples DUT_CPU; prints three views of the samples."""
    if not shutil.which("perf"):
        sys.exit("perf is needed (apt-get install linux-perf)")
    size, data = args.sizes[0], os.path.join(args.out, "perf.data")
    lab = Lab("lab_up", 2, generator=True)
    try:
        _, label, setup, teardown = next(c for c in dr_candidates(lab) if c[0] == args.profile)
        path = setup()
        try:
            trial(path, 1000, size, 1, args.flows)  # warm-up
            load = {}
            generator = threading.Thread(target=lambda: load.update(
                zip(("offered", "delivered"), trial(path, args.rate, size, args.seconds + 3, args.flows))))
            generator.start()
            time.sleep(1.5)  # let the load reach its steady rate before sampling
            run(["perf", "record", "-q", "-C", str(DUT_CPU), "-F", "1999", "-g", "-o", data, "--", "sleep", str(args.seconds)],
                timeout=args.seconds + 120)
            generator.join()
        finally:
            teardown()
    finally:
        lab.down()

    def report_lines(sort):
        out = run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", sort], timeout=300, check=False)
        return out.splitlines()

    def shares(lines, header=False):
        """The lines with a share (and, with header, perf's "# ... Samples" lines), in perf's order."""
        return [line for line in lines if re.match(r"^\s+[0-9.]+%", line) or (header and re.match(r"^#.*Samples", line))]

    log(f"== {label}, {size}-byte frames at {args.rate} pps offered; CPU {DUT_CPU} (RPS + the forwarding path), {args.seconds} s sampled")
    log(f"   generator: {load.get('offered', 0)} frames offered, {load.get('delivered', 0)} delivered to the servers")
    log(f"== samples on CPU {DUT_CPU} by thread (swapper = idle)")
    log("\n".join(shares(report_lines("comm"), header=True)[:10]))
    log("== by object (kernel, libc, the JIT-compiled engine shows as perf-<pid>.map or [unknown])")
    log("\n".join(shares(report_lines("dso"))[:8]))
    log("== top symbols ([k] kernel, [.] user)")
    log("\n".join(shares(report_lines("symbol"))[:25]))
    log(f"perf data: {data}")


# ---- NAT lab: nftables DNAT, our NAT ------------------------------------------------------------

def nat_lab(args, rows, apps):
    lab = Lab("lab_up_nat", 2)
    try:
        b, vip = lab["LAB_BALANCER_NS"], lab["LAB_VIP"]
        in_if, out_if = lab["LAB_BALANCER_IF"], lab["LAB_BALANCER_BACK_IF"]
        addrs = [a for _, _, a in lab.hosts]
        bmac, delivered = prepare_balancer(lab, in_if, out_if)
        path = LoadPath(lab["LAB_ROUTER_NS"], lab["LAB_ROUTER_LAN_IF"], bmac, lab["LAB_CLIENT_ADDR"], [vip], delivered)

        def dnat_on():
            in_ns(b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            mapping = ", ".join(f"{i} : {a}" for i, a in enumerate(addrs))
            nft(b, f"""table ip lbpeer {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {vip} udp dport {SINK_PORT} dnat to jhash ip saddr . udp sport mod {len(addrs)} seed {SEED} map {{ {mapping} }}
  }}
}}""")
            return path

        def dnat_off():
            in_ns(b, "sysctl", "-qw", "net.ipv4.ip_forward=0")
            in_ns(b, "nft", "delete", "table", "ip", "lbpeer", check=False)
            in_ns(b, "sh", "-c", "command -v conntrack >/dev/null && conntrack -F >/dev/null 2>&1 || true", check=False)

        candidates = [
            ("nft-dnat", "nftables DNAT", dnat_on, dnat_off),
            ("lb-nat", "lb NAT", *engine_candidate(b, sink_config(lab, "nat", in_if, out_if, addrs), path)),
        ]
        for size in args.sizes:
            measure_pair(rows, "nat", size, args, candidates)
        if args.app_seconds:
            measure_app(args, apps, lab, "nat", "lb NAT", [(b, lab.write_config("compare-nat-web.yaml", "lab_write_nat_config"))],
                        lambda engines: backends_active(engines[0]), [lambda: rx_bytes(b, [in_if, out_if])])
    finally:
        lab.down()


# ---- CLUSTERIP lab: nftables jhash ownership, our CLUSTERIP --------------------------------------

def cluster_lab(args, rows, apps, churn):
    n = 3
    lab = Lab("lab_up_cluster", n)
    try:
        nodes = lab.hosts
        vip, mac = lab["LAB_VIP"], lab["LAB_CLUSTER_MAC"]
        # The router's neighbour entry for the VIP, static: the kernel-only peer has nobody answering ARP
        # with the cluster MAC (our engines do), and both should meet the same router.
        in_ns(lab["LAB_ROUTER_NS"], "ip", "neigh", "replace", vip, "lladdr", mac, "dev", lab["LAB_ROUTER_LAN_IF"], "nud", "permanent")
        for ns, dev, _ in nodes:
            steer_receive_to_dut(ns, dev)
            # Counted where a node's stack receives the flow (after our TAP, or after the peer's ingress rule).
            nft(ns, f"""table inet sink {{
  counter delivered {{ }}
  chain in {{ type filter hook input priority -300; policy accept; udp dport {SINK_PORT} counter name "delivered" drop; }}
}}""")

        def counted(ns):
            out = json.loads(in_ns(ns, "nft", "-j", "list", "counter", "inet", "sink", "delivered"))
            return next(o["counter"]["packets"] for o in out["nftables"] if "counter" in o)

        delivered = lambda: sum(counted(ns) for ns, _, _ in nodes)  # noqa: E731
        path = LoadPath(lab["LAB_ROUTER_NS"], lab["LAB_ROUTER_LAN_IF"], mac, lab["LAB_CLIENT_ADDR"], [vip], delivered)

        def peer_rules(port, live):
            """The kernel-only CLUSTERIP replacement on each live node: jhash ownership, then pkttype host."""
            for k, (ns, dev, _) in enumerate(live):
                in_ns(ns, "nft", "delete", "table", "netdev", "lbpeer", check=False)
                nft(ns, f"""table netdev lbpeer {{
  chain in {{
    type filter hook ingress device "{dev}" priority -500; policy accept;
    ip daddr {vip} udp dport {port} jhash ip saddr . udp sport mod {len(live)} seed {SEED} != {k} drop
    ip daddr {vip} udp dport {port} meta pkttype set host
  }}
}}""")

        def peer_off():
            for ns, _, _ in nodes:
                in_ns(ns, "nft", "delete", "table", "netdev", "lbpeer", check=False)

        def peer_on():
            peer_rules(SINK_PORT, nodes)
            return path

        engines = []

        def node_config(i, port, proto, udp_timeout):
            nodes_yaml = "".join(f"        - {{id: {j + 1}, address: {a}}}\n" for j, (_, _, a) in enumerate(nodes))
            return write(os.path.join(lab["LAB_DIR"], f"compare-node{i + 1}.yaml"),
                         f"workers: 1\ncontrol_socket: {lab['LAB_DIR']}/compare-node{i + 1}.sock\nflow_timeouts: {{udp: {udp_timeout}s}}\n"
                         f"services:\n  - name: sink\n    vip: {vip}\n    port: {port}\n    protocol: {proto}\n    mode: clusterip\n"
                         f"    interface: {nodes[i][1]}\n    cluster:\n      mac: {mac}\n      hash: sourceip-sourceport\n"
                         f"      local_node: {i + 1}\n      nodes:\n{nodes_yaml}"
                         f"    health: {{type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}}\n")

        def start_cluster(port, proto, udp_timeout=5):
            # A short UDP timeout: a cluster takes new UDP only one timeout after it settles (modes.md).
            for i, (ns, _, _) in enumerate(nodes):
                engines.append(Engine(ns, node_config(i, port, proto, udp_timeout)))
            wait_for("the cluster to settle", lambda: cluster_settled(engines, n), 60)

        def stop_cluster():
            while engines:
                engines.pop().stop()

        def ours_on():
            start_cluster(SINK_PORT, "udp")
            return path

        for size in args.sizes:
            measure_pair(rows, "clusterip", size, args, [
                ("nft-clusterip", f"nftables CLUSTERIP ({n} nodes)", peer_on, peer_off),
                ("lb-clusterip", f"lb CLUSTERIP ({n} nodes)", ours_on, stop_cluster),
            ])
        # Per node: every node receives every frame and keeps its share.
        for r in rows:
            if r["mode"] == "clusterip":
                r["per_node_median"] = r["median"] // n

        if args.churn_flows:
            churn.extend(membership_change(args, lab, nodes, engines, start_cluster, stop_cluster, peer_rules, peer_off))

        if args.app_seconds:
            configs = [(ns, lab.write_config(f"compare-web-node{i + 1}.yaml", "lab_write_cluster_config", i + 1)) for i, (ns, _, _) in enumerate(nodes)]
            measure_app(args, apps, lab, "clusterip", f"lb CLUSTERIP ({n} nodes)", configs, lambda engines: cluster_settled(engines, n),
                        [lambda ns=ns, dev=dev: rx_bytes(ns, [dev]) for ns, dev, _ in nodes])
    finally:
        lab.down()


def membership_change(args, lab, nodes, engines, start_cluster, stop_cluster, peer_rules, peer_off):
    """Established UDP flows (one query each, from fixed source ports) before and after node 3 leaves and
    comes back: how many of the flows on the surviving nodes change node (for a stateful flow, broken)."""
    count, port0 = args.churn_flows, 30000
    echo = os.path.join(ROOT, "lab", "servers", "udp_echo.py")
    switch, cut = lab["LAB_SWITCH_NS"], f"{lab.prefix}s3"

    def query():
        out = in_ns(lab["LAB_CLIENT_NS"], "/usr/bin/python3", echo, "--query", lab["LAB_VIP"], "--port", "5353", "--count", str(count),
                    "--source-port", str(port0), "--payload", "c", "--timeout", "1", timeout=count * 2 + 30)
        return [line.split(" ")[0] for line in out.splitlines()]

    def compare(before, after):
        on_survivors = [i for i, node in enumerate(before) if node in ("node1", "node2")]
        broken = sum(1 for i in on_survivors if after[i] != before[i])
        failed = sum(1 for a in after if a == "FAILED")
        return {"flows": count, "on_survivors": len(on_survivors), "broken_on_survivors": broken,
                "broken_fraction": round(broken / len(on_survivors), 4) if on_survivors else 0.0, "unanswered_after": failed,
                "moved_total": sum(1 for i in range(count) if after[i] != before[i])}

    def phase(impl, label, short, start, left, rejoined, stop):
        """Queries before, while node 3 is cut off (after left()) and after it is back (after rejoined())."""
        start()
        try:
            before = query()
            in_ns(switch, "ip", "link", "set", cut, "down")
            left()
            during = query()
            in_ns(switch, "ip", "link", "set", cut, "up")
            rejoined()
            back = query()
        finally:
            in_ns(switch, "ip", "link", "set", cut, "up", check=False)
            stop()
        leave, rejoin = compare(before, during), compare(during, back)
        log(f"    {short}: node leaves: {leave['broken_on_survivors']}/{leave['on_survivors']} survivor flows moved; "
            f"node returns: {rejoin['broken_on_survivors']}/{rejoin['on_survivors']} moved")
        return {"impl": impl, "label": label, "leave": leave, "rejoin": rejoin}

    log("  -- membership change: lb CLUSTERIP (UDP echo, node 3 cut off and back)")
    # Flows must outlive the run's pauses (failover, return) to count as established: 20 s.
    ours = phase("lb-clusterip", "lb CLUSTERIP (Maglev, flow memory)", "lb",
                 lambda: start_cluster(5353, "udp", udp_timeout=20),
                 lambda: wait_for("the survivors to see node 3 dead", lambda: cluster_settled(engines[:2], 2, quorum=False), 30),
                 lambda: wait_for("node 3 back", lambda: cluster_settled(engines, 3, quorum=False), 30),
                 stop_cluster)
    log("  -- membership change: nftables CLUSTERIP (jhash mod N; the operator edits the rules on the survivors)")
    peer = phase("nft-clusterip", "nftables CLUSTERIP (jhash mod N)", "nft",
                 lambda: peer_rules(5353, nodes), lambda: peer_rules(5353, nodes[:2]), lambda: peer_rules(5353, nodes), peer_off)
    return [ours, peer]


# ---- the run -------------------------------------------------------------------------------------

def ratios(rows):
    by = {(r["impl"], r["size"]): r for r in rows}
    out = []
    for size in sorted({r["size"] for r in rows}):
        for ours, peer, target in (("lb-dr", "kernel-forwarding", 0.6), ("lb-dr", "nft-netdev-dr", 0.65), ("lb-nat", "nft-dnat", 0.65),
                                   ("lb-clusterip", "nft-clusterip", None)):
            if (ours, size) in by and (peer, size) in by and by[(peer, size)]["median"]:
                value = by[(ours, size)]["median"] / by[(peer, size)]["median"]
                out.append({"name": f"{by[(ours, size)]['label']} / {by[(peer, size)]['label']} ({size} B)", "value": round(value, 3),
                            "target": target, "met": None if target is None else value >= target})
        for impl in ("lb-dr", "lb-nat", "lb-clusterip"):
            r = by.get((impl, size))
            two = next((o for o in (r or {}).get("overload", []) if o["factor"] == 2.0), None)
            if r and two and r["median"]:
                value = two["median"] / r["median"]
                target = 0.7 if impl == "lb-dr" else None
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
    ap.add_argument("--only", default="dr,nat,clusterip")
    ap.add_argument("--out", default=None)
    ap.add_argument("--publish", action="store_true", help="also copy the results to benchmarks/results and RESULTS.md")
    ap.add_argument("--profile", choices=("lb-dr", "nft-netdev-dr"), help="profile that DR candidate with perf instead of comparing")
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
    global LOG, ENGINE_LOG
    LOG = open(os.path.join(args.out, "compare.log"), "a")
    ENGINE_LOG = os.path.join(args.out, "engine.log")

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every lab's finally: tears it down.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    if args.profile:
        profile(args)
        return

    meta = machine()
    meta.update({"loss_pct": args.loss, "trials": args.trials, "duration_s": args.duration, "quick": args.quick, "flows": args.flows,
                 "command": "./lab/compare.sh " + " ".join(sys.argv[1:])})
    log(f"== {meta['date']} commit {meta['commit']}, kernel {meta['kernel']}, {meta['cores']} cores ({meta['cpu']})")
    log(f"== placement: {meta['placement']}; loss < {args.loss} %, {args.duration} s per trial, {args.trials} trials, "
        f"sizes {args.sizes}, {args.flows} flows")
    rows, apps, churn = [], [], []
    started = time.monotonic()
    only = set(args.only.split(","))
    if "dr" in only:
        dr_lab(args, rows, apps)
    if "nat" in only:
        nat_lab(args, rows, apps)
    if "clusterip" in only:
        cluster_lab(args, rows, apps, churn)
    meta["elapsed_s"] = round(time.monotonic() - started)
    results = {"meta": meta, "pps": rows, "app": apps, "ratios": ratios(rows), "membership_change": churn}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report.render(results, args.out)
    print(report.text_table(results))
    print(f"results: {args.out} (results.json, results.csv, results.svg, results.md); {meta['elapsed_s']} s")
    if args.publish:
        publish(args.out)


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


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
