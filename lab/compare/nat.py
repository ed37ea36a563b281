"""The NAT lab (lab_up_nat, two-armed): nftables DNAT (jhash map, conntrack) and our NAT, fed from the
router's side of the front link; with ipv6, the same two over IPv6 (nftables DNAT in an ip6 table, our NAT66)
in the same alternation; then wrk through the VIP."""

from .app import measure_app, rx_bytes
from .balancer import engine_candidate, prepare_balancer, sink_config
from .dr import SMALLEST_IPV6_FRAME
from .harness import SEED, SINK_PORT, Lab, backends_active, in_ns, nft, write
from .search import LoadPath, measure_pair


def measure(args, rows, apps, ipv4=True, ipv6=False):
    lab = Lab("lab_up_nat", 2)
    try:
        b = lab["LAB_BALANCER_NS"]
        in_if, out_if = lab["LAB_BALANCER_IF"], lab["LAB_BALANCER_BACK_IF"]
        bmac, delivered = prepare_balancer(lab, in_if, out_if)

        def family(suffix, src, vip, addrs, forwarding_sysctl, table_family, daddr, saddr, smallest):
            """nftables DNAT and ours for one address family: the router's side of the front link sends from src
            (the client's address) to vip, frames of at least smallest bytes."""
            path = LoadPath(lab["LAB_ROUTER_NS"], lab["LAB_ROUTER_LAN_IF"], bmac, src, [vip], delivered, smallest)
            table = f"lbpeer{suffix}"

            def dnat_on():
                in_ns(b, "sysctl", "-qw", f"{forwarding_sysctl}=1")
                mapping = ", ".join(f"{i} : {a}" for i, a in enumerate(addrs))
                nft(b, f"""table {table_family} {table} {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    {daddr} {vip} udp dport {SINK_PORT} dnat to jhash {saddr} . udp sport mod {len(addrs)} seed {SEED} map {{ {mapping} }}
  }}
}}""")
                return path

            def dnat_off():
                in_ns(b, "sysctl", "-qw", f"{forwarding_sysctl}=0")
                in_ns(b, "nft", "delete", "table", table_family, table, check=False)
                in_ns(b, "sh", "-c", "command -v conntrack >/dev/null && conntrack -F >/dev/null 2>&1 || true", check=False)

            config = sink_config(lab, "nat", in_if, out_if, addrs, vip=vip, name=f"nat{suffix}")
            listed = [
                (f"nft-dnat{suffix}", "nftables DNAT" + (" (ip6)" if suffix else ""), dnat_on, dnat_off),
                (f"lb-nat{suffix}", "lb NAT66" if suffix else "lb NAT", *engine_candidate(b, config, path)),
            ]
            if getattr(args, "xdp", False) and not suffix:
                # The same engine and config on the AF_XDP port (IPv4 only so far).
                with open(config) as f:
                    on_xdp = write(config.replace(".yaml", "-xdp.yaml"), "io: af_xdp\n" + f.read())
                listed.append(("lb-nat-xdp", "lb NAT (AF_XDP)", *engine_candidate(b, on_xdp, path)))
            return listed

        candidates = []
        if ipv4:
            candidates += family("", lab["LAB_CLIENT_ADDR"], lab["LAB_VIP"], [a for _, _, a in lab.hosts], "net.ipv4.ip_forward",
                                 "ip", "ip daddr", "ip saddr", 64)
        if ipv6:
            # The balancer's back address 2001:db8:4::1/64 puts the servers on link: forwarding needs no route of its own.
            candidates += family("6", lab["LAB_CLIENT_ADDR6"], lab["LAB_VIP6"], [a for _, _, a in lab.hosts6], "net.ipv6.conf.all.forwarding",
                                 "ip6", "ip6 daddr", "ip6 saddr", SMALLEST_IPV6_FRAME)
        for size in args.sizes:
            measure_pair(rows, "nat", size, args, candidates)
        if args.app_seconds and ipv4:
            measure_app(args, apps, lab, "nat", "lb NAT", [(b, lab.write_config("compare-nat-web.yaml", "lab_write_nat_config", "ipv4"))],
                        lambda engines: backends_active(engines[0]), [lambda: rx_bytes(b, [in_if, out_if])])
    finally:
        lab.down()
