"""What the balancer labs (DR and NAT) share: the real servers sink the test traffic and count it, the
balancer's side is prepared the same way for every candidate, and our engine serves the sink service."""

import os

import subprocess

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


def scraped_engine_candidate(ns, config, path):
    """Our engine with its HTTP listener on and /metrics fetched every second (as Prometheus would), the fetcher on
    the generator's CPU and the engine, listener included, on the device under test's: what a scrape costs the workers."""
    with open(config) as f:
        text = f.read()
    scraped = config.replace(".yaml", "-scraped.yaml")
    write(scraped, f"http:\n  listen: {SCRAPE_LISTEN}\n" + text)
    on_engine, off_engine = engine_candidate(ns, scraped, path)
    scraper = None

    def on():
        nonlocal scraper
        result = on_engine()
        # One long-lived client on the generator's CPU holding one keep-alive connection, as Prometheus does: a
        # process per scrape (ip netns exec, taskset, curl) would cost the generator tens of milliseconds a second
        # and measure the harness, not the engine.
        scraper = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(GEN_CPU), "python3", "-c", SCRAPER, SCRAPE_LISTEN],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return result

    def off():
        scraper.terminate()
        scraper.wait(5)
        off_engine()

    return on, off
