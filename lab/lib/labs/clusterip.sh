# shellcheck shell=bash
# The CLUSTERIP lab (lab_up_cluster): no balancer; every node runs its own engine and owns a share of the flows.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24 and 2001:db8:2::2/64, default via 10.99.2.1 and 2001:db8:2::1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24, 2001:db8:2::1/64   <P>r1 10.99.1.1/24, 2001:db8:1::1/64 (LAN),
#        |             ip_forward=1, IPv6 forwarding=1, rp_filter=2, arp_accept=1 on <P>r1,
#        |             routes 10.99.0.100/32 and 2001:db8::100/128 dev <P>r1 (the VIPs found by ARP and
#        |             neighbour discovery: the nodes' engines answer them with the multicast cluster MACs
#        |             01:00:5e:7f:00:64 and 33:33:00:00:01:00; no static neighbour entry)
#   switch ns  <P>-s   bridge <P>br (no STP, forward delay 0, bridge-nf off, mcast_snooping 0 so frames
#        |             to the cluster MACs are flooded to every port), ports <P>sr (router), <P>s1..<P>sN
#        +-- node ns      <P>-nI  <P>nI 10.99.1.(10+I)/24 and 2001:db8:1::(10+I)/64, default via 10.99.1.1 and
#                                 2001:db8:1::1, VIPs 10.99.0.100/32 and 2001:db8::100/128 on lo,
#                                 arp_ignore=1, arp_announce=2 (the node's kernel never answers ARP for the
#                                 VIP, nor neighbour discovery for the VIP6 on lo: its engine does),
#                                 rp_filter=0 on all/default/lo/<P>nI (re-injection through a TAP the engine
#                                 creates; the engine sets the TAP's own IPv4 and IPv6 settings), nginx :80 and
#                                 [::]:80 ("nodeI\n" on /, 10 MB /big), upload server :8080, UDP echo :5353
#                                 ("nodeI <payload>")
#
# The kernel's CLUSTERIP target is gone (Linux 6.3) and its TCP stack drops frames to a multicast MAC, so the
# engines re-inject the flows they own through a TAP (../shared/LAB.md item 5). The lab starts no engine.

# CLUSTERIP-only variables (lab_set_env unsets them for the other labs; lab.env lists them for a CLUSTERIP lab).
_LAB_CLUSTER_VARS=(LAB_NODE_NS LAB_NODE_IFS LAB_NODE_ADDRS LAB_NODE_NAMES LAB_CLUSTER_MAC LAB_CLUSTER_MAC6)

_lab_env_clusterip() { # P N
    # No balancer: every node runs an engine. The nodes are also the lab's "servers".
    unset LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR
    export LAB_UDP_PORT=5353
    _lab_export_hosts "$1" n 10.99.1 node "$2"
    export LAB_NODE_NS="$LAB_SERVER_NS" LAB_NODE_IFS="$LAB_SERVER_IFS"
    export LAB_NODE_ADDRS="$LAB_SERVER_ADDRS" LAB_NODE_NAMES="$LAB_SERVER_NAMES"
    export LAB_CLUSTER_MAC=01:00:5e:7f:00:64 LAB_CLUSTER_MAC6=33:33:00:00:01:00
}

# Runs in its own bash (see _lab_build) under set -e.
_lab_create_clusterip() {
    _lab_create_begin clusterip "$@"
    # Without snooping the bridge floods frames to the multicast cluster MAC to every port.
    ip -n "$LAB_SWITCH_NS" link set "$LAB_BRIDGE" type bridge mcast_snooping 0
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${LAB_PREFIX}sr" netns "$LAB_SWITCH_NS"
    _lab_host_links "${LAB_PREFIX}sr"

    _lab_client_router_setup
    # The VIP's neighbour entry comes from the engines' ARP replies (multicast cluster MAC); accept
    # them. No static neighbour entry: whether ARP works is part of what the lab shows.
    _lab_sysctl "$LAB_ROUTER_NS" "net.ipv4.conf.$LAB_ROUTER_LAN_IF.arp_accept=1"

    _lab_create_hosts "$LAB_ROUTER_LAN_ADDR" _lab_clusterip_node "$LAB_ROUTER_LAN_ADDR6"
}

# _lab_clusterip_node NS DEV NAME: what a node needs besides a server's address and servers.
_lab_clusterip_node() {
    local ns="$1" dev="$2" name="$3"
    # VIP on lo, the kernel silent on ARP for it (the engine answers), as for a DR real server.
    _lab_vip_on_lo "$ns" "$dev" "$name"
    # Re-injected frames come in through a TAP the engine creates later (it inherits default).
    _lab_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.lo.rp_filter=0 "net.ipv4.conf.$dev.rp_filter=0"
}

# lab_up_cluster PREFIX [N]: builds the CLUSTERIP lab with N nodes (default 3) and waits (bounded)
# until each node answers on its own address from the router namespace. Starts no engine.
# On failure it prints what it knows, tears the half-built lab down and returns 1.
lab_up_cluster() {
    local P="$1" N="${2:-3}"
    _lab_preflight lab_up_cluster "$P" "$N" && _lab_need_lb lab_up_cluster || return 1
    lab_log "creating CLUSTERIP lab $P with $N nodes"
    _lab_build lab_up_cluster clusterip "$P" "$N" || return 1
    _lab_wait_hosts lab_up_cluster "$P" "$N" "$LAB_ROUTER_NS" router || return 1
    _lab_write_env_file "${_LAB_CLUSTER_VARS[@]}"
    lab_log "CLUSTERIP lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_write_cluster_config PREFIX NODE [ipv4] FILE: node NODE's (1-based) engine config for this CLUSTERIP lab:
# web on :80 and the UDP echo on :5353 in clusterip mode on <P>nNODE, every node of the lab listed, own
# control socket; web6 on [2001:db8::100]:80 beside them (its own cluster of the nodes' IPv6 addresses, cluster
# MAC 33:33:00:00:01:00), unless "ipv4" is given.
lab_write_cluster_config() {
    local P="$1" node="$2" file="$3" ipv6=1 N i nodes="" nodes6=""
    if [[ $# -ge 4 ]]; then
        [[ "$3" == ipv4 ]] || { lab_warn "lab_write_cluster_config: expected 'ipv4' or nothing before the file, got '$3'"; return 1; }
        ipv6=0 file="$4"
    fi
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" n 3)"
    if [[ ! "$node" =~ ^[0-9]+$ ]] || (( node < 1 || node > N )); then
        lab_warn "lab_write_cluster_config: node must be 1..$N, got '$node'"
        return 1
    fi
    for (( i = 1; i <= N; i++ )); do
        nodes+="        - {id: $i, address: 10.99.1.$(( 10 + i ))}"$'\n'
        nodes6+="        - {id: $i, address: 2001:db8:1::$(( 10 + i ))}"$'\n'
    done
    # One service of the cluster: NAME PORT PROTOCOL.
    local svc='  - name: %s\n    vip: 10.99.0.100\n    port: %s\n    protocol: %s\n    mode: clusterip\n    interface: %sn%s\n'
    svc+='    cluster:\n      mac: 01:00:5e:7f:00:64\n      hash: sourceip-sourceport\n      local_node: %s\n      nodes:\n'
    local health='    health: {type: tcp, port: 80, interval: 1s, timeout: 500ms, rise: 2, fall: 2}\n'
    {
        _lab_config_head "$P" "lb-node$node.sock"
        # A short UDP timeout: after a membership change a node waits that long before it takes UDP in buckets
        # a live node held, and a lab should not wait the default 60 s.
        printf 'flow_timeouts: {udp: 10s}\n'
        printf 'services:\n'
        # shellcheck disable=SC2059  # the formats are ours
        printf "$svc" web 80 tcp "$P" "$node" "$node"
        printf '%s' "$nodes"
        # shellcheck disable=SC2059
        printf "$health"
        # The UDP echo on every node, in the same cluster.
        # shellcheck disable=SC2059
        printf "$svc" echo 5353 udp "$P" "$node" "$node"
        printf '%s' "$nodes"
        # shellcheck disable=SC2059
        printf "$health"
        if (( ipv6 )); then
            # The IPv6 VIP behind a cluster MAC of its own, in the 33:33 range IPv6 multicast maps to (quoted: YAML 1.1
            # tools read an all-digit MAC as a base-60 number).
            local svc6="${svc/10.99.0.100/2001:db8::100}"
            svc6="${svc6/01:00:5e:7f:00:64/\"33:33:00:00:01:00\"}"
            # shellcheck disable=SC2059
            printf "$svc6" web6 80 tcp "$P" "$node" "$node"
            printf '%s' "$nodes6"
            # shellcheck disable=SC2059
            printf "$health"
        fi
    } > "$file"
}
