"""The DR lab (lab_up with a generator arm): kernel IP forwarding, nftables netdev DR and our DR, fed from
the generator arm and delivering on the LAN; then wrk through the VIP."""

from .app import measure_app, rx_bytes
from .balancer import engine_candidate, prepare_balancer, scraped_engine_candidate, sink_config
from .harness import SEED, SINK_PORT, Lab, backends_active, in_ns, mac_of, nft
from .search import LoadPath, measure_pair


def candidates(lab, scrape=False):
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
    listed = [
        ("kernel-forwarding", "kernel IP forwarding", forwarding_on, forwarding_off),
        ("nft-netdev-dr", "nftables netdev DR", nft_dr_on, nft_dr_off),
        ("lb-dr", "lb DR", *engine_candidate(b, config, path([vip]))),
    ]
    if scrape:
        listed.append(("lb-dr-scraped", "lb DR, /metrics every 1 s", *scraped_engine_candidate(b, config, path([vip]))))
    return listed


def measure(args, rows, apps):
    lab = Lab("lab_up", 2, generator=True)
    try:
        lab_candidates = candidates(lab, getattr(args, "scrape", False))
        for size in args.sizes:
            measure_pair(rows, "dr", size, args, lab_candidates)
        if args.app_seconds:
            b, out_if = lab["LAB_BALANCER_NS"], lab["LAB_BALANCER_IF"]
            measure_app(args, apps, lab, "dr", "lb DR", [(b, lab.write_config("compare-dr-web.yaml", "lab_write_dr_config"))],
                        lambda engines: backends_active(engines[0]), [lambda: rx_bytes(b, [out_if])])
    finally:
        lab.down()
