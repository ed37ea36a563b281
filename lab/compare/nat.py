"""The NAT lab (lab_up_nat, two-armed): nftables DNAT (jhash map, conntrack) and our NAT, fed from the
router's side of the front link; then wrk through the VIP."""

from .app import measure_app, rx_bytes
from .balancer import engine_candidate, prepare_balancer, sink_config
from .harness import SEED, SINK_PORT, Lab, backends_active, in_ns, nft
from .search import LoadPath, measure_pair


def measure(args, rows, apps):
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
