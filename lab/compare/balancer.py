"""What the balancer labs (DR and NAT) share: the real servers sink the test traffic and count it, the
balancer's side is prepared the same way for every candidate, and our engine serves the sink service."""

import os

import subprocess
import time

from .harness import GEN_CPU, SINK_PORT, Engine, backends_active, in_ns, mac_of, nft, read_int, steer_receive_to_dut, wait_for, write


def sink_servers(servers):
    """Each real server drops the test traffic at netdev ingress (it answers nothing) after its rx counter, over
    IPv4 and IPv6 alike (meta l4proto is the transport protocol of either family)."""
    for ns, dev, _ in servers:
        nft(ns, f"""table netdev sink {{
  chain in {{ type filter hook ingress device "{dev}" priority 0; policy accept; meta l4proto udp udp dport {SINK_PORT} counter drop; }}
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


def sink_config(lab, mode, in_if, out_if, addrs, vip=None, name=None):
    """Our engine's config for the sink service (UDP to SINK_PORT on the VIP, the lab's IPv4 VIP unless vip is
    given) in dr or nat mode, written to compare-NAME.yaml (NAME: the mode unless given)."""
    backends = "".join(f"      - {{name: rs{i + 1}, address: '{a}'}}\n" for i, a in enumerate(addrs))
    return write(os.path.join(lab["LAB_DIR"], f"compare-{name or mode}.yaml"),
                 f"workers: 1\ncontrol_socket: {lab['LAB_DIR']}/compare.sock\nservices:\n  - name: sink\n    vip: '{vip or lab['LAB_VIP']}'\n"
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

    on.engine = lambda: engine  # the running engine, for a candidate built on this one
    on.settle = lambda: settle(engine)
    return on, off


SCRAPE_LISTEN = "127.0.0.1:9150"

SCRAPER = """
import http.client, sys, time
host, port = sys.argv[1].rsplit(":", 1)
conn = None
while True:
    start = time.monotonic()
    try:
        if conn is None:
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
        conn.request("GET", "/metrics")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        conn = None
    time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
"""


# Before the first scrape that counts: 200 scrapes 20 ms apart (about 5 s). A fresh engine's scrape path is about 2,000
# methods the JIT tiers up over its first few hundred calls (about 1 s of CPU once); Prometheus scrapes an engine for
# hours, so a run that starts measuring at the first scrape measures the JIT's warm-up on the workers' core, not a
# scrape (seen: 10 ms of engine CPU per scrape cold, 1.2 ms warm; 2026-12-03, benchmarks/RESULTS.md).
WARM_UP = """
import http.client, sys, time
host, port = sys.argv[1].rsplit(":", 1)
deadline, done = time.monotonic() + 30, 0
conn = None
while done < 200:
    try:
        if conn is None:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("GET", "/metrics")
        conn.getresponse().read()
        done += 1
    except (OSError, http.client.HTTPException):
        conn = None
        if time.monotonic() > deadline:
            sys.exit("no /metrics within 30 s")
    time.sleep(0.02)
"""


def quiet(engine, window=2.0, share=0.05):
    """Whether the engine used under `share` of one core over the next `window` seconds."""
    before = engine.cpu_seconds()
    time.sleep(window)
    return engine.cpu_seconds() - before < share * window


def settle(engine):
    """Waits, after the warm-up traffic, until the runtime has finished recompiling what the warm-up made hot.
    The tiered JIT promotes a method after 30 calls, but only once no new method has been compiled for 100 ms
    (1 s when the process may use one CPU, as here), and then compiles the whole backlog on one background thread:
    on the device under test's one core that thread took 40-50 % of it for about a second, starving the worker
    (seen with `perf record -e sched:sched_switch`: 30,000-70,000 ring drops in a 1 s trial at 230 k pps, none
    with DOTNET_TieredCompilation=0; 2026-12-03, benchmarks/RESULTS.md). A balancer runs for days; a trial
    measures it after its start-up, so the window is longer than that delay."""
    wait_for("the engine's JIT to settle", lambda: quiet(engine), 30)


def scraped_engine_candidate(ns, config, path, scrape=True):
    """Our engine with its HTTP listener on and /metrics fetched every second (as Prometheus would), the fetcher on
    the generator's CPU and the engine, listener included, on the device under test's: what a scrape costs the workers.
    With scrape=False the listener is on (and warmed up alike) but nothing fetches during the trial: what the listener
    alone costs."""
    with open(config) as f:
        text = f.read()
    scraped = config.replace(".yaml", "-scraped.yaml" if scrape else "-listening.yaml")
    write(scraped, f"http:\n  listen: {SCRAPE_LISTEN}\n" + text)
    on_engine, off_engine = engine_candidate(ns, scraped, path)
    scraper = None

    def on():
        nonlocal scraper
        result = on_engine()
        subprocess.run(["ip", "netns", "exec", ns, "taskset", "-c", str(GEN_CPU), "python3", "-c", WARM_UP, SCRAPE_LISTEN],
                       stdout=subprocess.DEVNULL, timeout=90, check=True)
        # The JIT tiers up what the warm-up made hot after the warm-up trial's traffic too: measure_pair waits for
        # both at once (settle).
        # One long-lived client on the generator's CPU holding one keep-alive connection, as Prometheus does: a
        # process per scrape (ip netns exec, taskset, curl) would cost the generator tens of milliseconds a second
        # and measure the harness, not the engine.
        if scrape:
            scraper = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(GEN_CPU), "python3", "-c", SCRAPER, SCRAPE_LISTEN],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return result

    def off():
        if scraper is not None:
            scraper.terminate()
            scraper.wait(5)
        off_engine()

    on.settle = on_engine.settle
    return on, off
