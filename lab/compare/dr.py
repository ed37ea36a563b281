"""The DR lab (lab_up with a generator arm): kernel IP forwarding, nftables netdev DR and our DR, fed from
the generator arm and delivering on the LAN; with ipv6, the same three over IPv6 (kernel IPv6 forwarding,
nftables netdev DR on ip6, our DR6) in the same alternation; then wrk through the VIP."""

from .app import measure_app, rx_bytes
from .balancer import engine_candidate, prepare_balancer, scraped_engine_candidate, sink_config
from .harness import SEED, SINK_PORT, Lab, backends_active, in_ns, mac_of, nft, write
from .search import LoadPath, measure_pair

# Ethernet 14 + IPv6 40 + UDP 8 + FCS 4: the smallest IPv6 test frame (`lb generate` refuses less).
SMALLEST_IPV6_FRAME = 66


def candidates(lab, scrape=False, ipv4=True, ipv6=False, xdp=False):
    """The DR lab's candidates for measure_pair (the generator arm in, the LAN out): kernel IP forwarding,
    nftables netdev DR and ours, for IPv4 and (ipv6) for IPv6."""
    b = lab["LAB_BALANCER_NS"]
    in_if, out_if = lab["LAB_BALANCER_GEN_IF"], lab["LAB_BALANCER_IF"]
    bmac, delivered = prepare_balancer(lab, in_if, out_if)
    outmac = mac_of(b, out_if)
    smacs = [mac_of(ns, dev) for ns, dev, _ in lab.hosts]
    mapping = ", ".join(f"{i} : {m}" for i, m in enumerate(smacs))

    def family(suffix, src, vip, servers, forwarding_sysctl, nft_match, smallest):
        """Kernel forwarding, nftables netdev DR and ours for one address family: the generator sends from src, to
        the servers' addresses (forwarding) or to vip, frames of at least smallest bytes; nft_match picks the test
        traffic and names the hash's source address."""

        def path(dsts):
            return LoadPath(lab["LAB_GEN_NS"], lab["LAB_GEN_IF"], bmac, src, dsts, delivered, smallest)

        def forwarding_on():
            in_ns(b, "sysctl", "-qw", f"{forwarding_sysctl}=1")
            return path(servers)

        def forwarding_off():
            in_ns(b, "sysctl", "-qw", f"{forwarding_sysctl}=0")

        table = f"lbpeer{suffix}"

        def nft_dr_on():
            match, saddr = nft_match
            nft(b, f"""table netdev {table} {{
  chain in {{
    type filter hook ingress device "{in_if}" priority -500; policy accept;
    {match} {vip} udp dport {SINK_PORT} ether saddr set {outmac} ether daddr set jhash {saddr} . udp sport mod {len(smacs)} seed {SEED} map {{ {mapping} }} fwd to "{out_if}"
  }}
}}""")
            return path([vip])

        def nft_dr_off():
            in_ns(b, "nft", "delete", "table", "netdev", table, check=False)

        config = sink_config(lab, "dr", in_if, out_if, servers, vip=vip, name=f"dr{suffix}")
        version = " IPv6" if suffix else " IP"
        listed = [
            (f"kernel-forwarding{suffix}", f"kernel{version} forwarding", forwarding_on, forwarding_off),
            (f"nft-netdev-dr{suffix}", "nftables netdev DR" + (" (ip6)" if suffix else ""), nft_dr_on, nft_dr_off),
            (f"lb-dr{suffix}", f"lb DR{suffix}", *engine_candidate(b, config, path([vip]))),
        ]
        if xdp and not suffix:
            # The same engine and config on the AF_XDP port (IPv4 only so far): its XDP work runs in the interface's
            # threaded NAPI, which the engine pins to its own CPU (the device under test's), like RPS for the others.
            with open(config) as f:
                on_xdp = write(config.replace(".yaml", "-xdp.yaml"), "io: af_xdp\n" + f.read())
            listed.append(("lb-dr-xdp", "lb DR (AF_XDP)", *engine_candidate(b, on_xdp, path([vip]))))
        if scrape:
            listed.append((f"lb-dr{suffix}-listening", f"lb DR{suffix}, listener on, no scrape",
                           *scraped_engine_candidate(b, config, path([vip]), scrape=False)))
            listed.append((f"lb-dr{suffix}-scraped", f"lb DR{suffix}, /metrics every 1 s", *scraped_engine_candidate(b, config, path([vip]))))
        return listed

    listed = []
    if ipv4:
        listed += family("", lab["LAB_GEN_ADDR"], lab["LAB_VIP"], [a for _, _, a in lab.hosts], "net.ipv4.ip_forward",
                         ("ip daddr", "ip saddr"), 64)
    if ipv6:
        # The balancer's LAN address 2001:db8:1::10/64 puts the servers on link: forwarding needs no route of its own.
        listed += family("6", lab["LAB_GEN_ADDR6"], lab["LAB_VIP6"], [a for _, _, a in lab.hosts6], "net.ipv6.conf.all.forwarding",
                         ("ip6 daddr", "ip6 saddr"), SMALLEST_IPV6_FRAME)
    return listed


def measure(args, rows, apps, ipv4=True, ipv6=False):
    lab = Lab("lab_up", 2, generator=True)
    try:
        lab_candidates = candidates(lab, getattr(args, "scrape", False), ipv4, ipv6, getattr(args, "xdp", False))
        for size in args.sizes:
            measure_pair(rows, "dr", size, args, lab_candidates)
        if args.app_seconds and ipv4:
            b, out_if = lab["LAB_BALANCER_NS"], lab["LAB_BALANCER_IF"]
            measure_app(args, apps, lab, "dr", "lb DR", [(b, lab.write_config("compare-dr-web.yaml", "lab_write_dr_config"))],
                        lambda engines: backends_active(engines[0]), [lambda: rx_bytes(b, [out_if])])
    finally:
        lab.down()
