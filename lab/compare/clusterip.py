"""The CLUSTERIP lab (lab_up_cluster, three nodes): the kernel-only peer (nftables jhash ownership, then
`meta pkttype set host`) and our CLUSTERIP, fed from the router; wrk through the VIP; and how many
established flows a membership change moves.

Every node receives every frame (the bridge floods the cluster MAC) and keeps its share, so delivery is
counted where a node's stack receives the flow: an nftables counter at IP input."""

import json
import os

from .app import measure_app, rx_bytes
from .harness import ROOT, SEED, SINK_PORT, Engine, Lab, in_ns, log, nft, steer_receive_to_dut, wait_for, write
from .search import LoadPath, measure_pair


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


def measure(args, rows, apps, churn):
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
            configs = [(ns, lab.write_config(f"compare-web-node{i + 1}.yaml", "lab_write_cluster_config", i + 1, "ipv4")) for i, (ns, _, _) in enumerate(nodes)]
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
