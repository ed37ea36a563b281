"""The parts of ./lab/compare.sh, by lab and by job; lab/compare.py parses the command line and runs them.

    harness    commands, namespaces, nftables, a lab from lab/lib/topology.sh, our engine, the run's logs
    search     one trial, the RFC 2544 search for the loss-free rate, overload steps, candidates alternated
    balancer   what the DR and NAT labs share: the servers' sink, the balancer's side, our engine as candidate
    dr         the DR lab: kernel forwarding, nftables netdev DR and ours
    nat        the NAT lab: nftables DNAT and ours
    clusterip  the CLUSTERIP lab: the nftables jhash peer and ours, and the membership change
    app        what applications feel: wrk through the VIP
    profile    --profile: perf on the device under test's CPU
    results    the run's document: machine facts, ratios, publishing to benchmarks/
"""
