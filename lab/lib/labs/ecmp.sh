# shellcheck shell=bash
# The ECMP lab (lab_up_ecmp): three balancers side by side behind a router that spreads flows over them with
# equal-cost multipath, each balancer announcing the VIP by BGP (BIRD 2) while its engine can serve it.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24, default via 10.99.2.1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24   <P>r1 10.99.1.1/24 (LAN), ip_forward=1, rp_filter=2,
#        |             fib_multipath_hash_policy=3, fib_multipath_hash_fields=0x0037 (addresses, protocol, ports
#        |             read from the packet); BIRD 2: BGP AS 65000 with each balancer, merge paths on: the VIP
#        |             10.99.0.100/32 gets one next hop per balancer that announces it
#   switch ns  <P>-s   bridge <P>br: <P>sr (router), <P>sl1..<P>sl3 (balancers), <P>s1..<P>sN (servers)
#        +-- balancer ns <P>-bI  <P>lI 10.99.1.(1+I)/24, default via 10.99.1.1, ip_forward=0; lb run (DR, arp: false,
#        |             announce: true into table 100) and BIRD 2 (AS 65001: learns table 100 from the kernel,
#        |             exports it to the router with itself as next hop)
#        +-- server ns <P>-wI  <P>wI 10.99.1.(10+I)/24, default via 10.99.1.1, VIP 10.99.0.100/32 on lo,
#                              arp_ignore=1, arp_announce=2; nginx :80 ("rsI", /big), upload server :8080
# Engines and the balancers' BIRD are not started here: lab_start_ecmp_node does that, one balancer at a time.

_LAB_ECMP_VARS=(LAB_ECMP_NS LAB_ECMP_IFS LAB_ECMP_ADDRS)
LAB_ECMP_BALANCERS=3

_lab_env_ecmp() { # P N
    local P="$1" i nss=() ifs=() addrs=()
    _lab_export_hosts "$P" w 10.99.1 rs "$2"
    for (( i = 1; i <= LAB_ECMP_BALANCERS; i++ )); do
        nss+=("$P-b$i"); ifs+=("${P}l$i"); addrs+=("10.99.1.$(( 1 + i ))")
    done
    export LAB_ECMP_NS="${nss[*]}" LAB_ECMP_IFS="${ifs[*]}" LAB_ECMP_ADDRS="${addrs[*]}"
    export LAB_BALANCER_NS="${nss[0]}" LAB_BALANCER_IF="${ifs[0]}" LAB_BALANCER_ADDR="${addrs[0]}"
}

# Runs in its own bash (see _lab_build) under set -e.
_lab_create_ecmp() {
    _lab_create_begin ecmp "$@"
    local P="$LAB_PREFIX" i nss ifs addrs ports=()
    read -r -a nss <<< "$LAB_ECMP_NS"
    read -r -a ifs <<< "$LAB_ECMP_IFS"
    read -r -a addrs <<< "$LAB_ECMP_ADDRS"
    _lab_add_namespaces "${nss[@]:1}"   # balancer 1 is LAB_BALANCER_NS, made by _lab_create_begin
    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    ports+=("${P}sr")
    for (( i = 0; i < LAB_ECMP_BALANCERS; i++ )); do
        ip link add "${ifs[i]}" netns "${nss[i]}" type veth peer name "${P}sl$(( i + 1 ))" netns "$LAB_SWITCH_NS"
        ports+=("${P}sl$(( i + 1 ))")
    done
    _lab_host_links "${ports[@]}"

    _lab_client_router_setup
    # The VIP is BIRD's to route here, by BGP: no static route.
    ip -n "$LAB_ROUTER_NS" route del "$LAB_VIP/32" dev "$LAB_ROUTER_LAN_IF"
    _lab_sysctl "$LAB_ROUTER_NS" net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x0037

    for (( i = 0; i < LAB_ECMP_BALANCERS; i++ )); do
        _lab_sysctl "${nss[i]}" net.ipv4.ip_forward=0
        _lab_host_up "${nss[i]}" "${ifs[i]}" "${addrs[i]}" "$LAB_ROUTER_LAN_ADDR"
    done

    _lab_create_hosts "$LAB_ROUTER_LAN_ADDR" _lab_vip_on_lo
    _lab_ecmp_router_bird
}

# The router's BIRD: a BGP session with each balancer, their routes merged into one multipath kernel route.
_lab_ecmp_router_bird() {
    local addrs i conf="$LAB_DIR/bird-router.conf"
    read -r -a addrs <<< "$LAB_ECMP_ADDRS"
    {
        printf 'log "%s" all;\nrouter id %s;\n' "$LAB_DIR/bird-router.log" "$LAB_ROUTER_LAN_ADDR"
        printf 'protocol device { scan time 1; }\n'
        printf 'protocol kernel {\n    merge paths on;\n    ipv4 { import none; export where source = RTS_BGP; };\n}\n'
        printf 'template bgp balancer {\n    local %s as 65000;\n    hold time 3;\n    keepalive time 1;\n' "$LAB_ROUTER_LAN_ADDR"
        printf '    connect retry time 1;\n    ipv4 { import all; export none; };\n}\n'
        for (( i = 0; i < LAB_ECMP_BALANCERS; i++ )); do
            printf 'protocol bgp lb%s from balancer { neighbor %s as 65001; }\n' "$(( i + 1 ))" "${addrs[i]}"
        done
    } > "$conf"
    ip netns exec "$LAB_ROUTER_NS" bird -c "$conf" -s "$LAB_DIR/bird-router.ctl" -P "$LAB_DIR/bird-router.pid" </dev/null
}

# lab_up_ecmp PREFIX [N]: builds the ECMP lab with N real servers (default 3) and waits (bounded) until each
# answers on its own address from the client.
lab_up_ecmp() {
    local P="$1" N="${2:-3}"
    _lab_preflight lab_up_ecmp "$P" "$N" && _lab_need_lb lab_up_ecmp || return 1
    lab_log "creating ECMP lab $P with $LAB_ECMP_BALANCERS balancers and $N real servers"
    _lab_build lab_up_ecmp ecmp "$P" "$N" || return 1
    _lab_wait_hosts lab_up_ecmp "$P" "$N" "$LAB_CLIENT_NS" client || return 1
    _lab_write_env_file "${_LAB_ECMP_VARS[@]}"
    lab_log "ECMP lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_write_ecmp_config PREFIX I FILE [SEED]: balancer I's engine config: web on 10.99.0.100:80 (DR, every server,
# arp: false, announce: true), http checks on /running every 500 ms, announce into table 100; SEED (default 0x5eed,
# the same on every balancer) is the hash seed.
lab_write_ecmp_config() {
    local P="$1" I="$2" file="$3" seed="${4:-0x5eed}" N i
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 3)"
    {
        printf 'hash_seed: %s\nworkers: 1\ncontrol_socket: /tmp/%s/lb%s.sock\n' "$seed" "$P" "$I"
        printf 'announce: {table: 100}\nservices:\n'
        printf '  - name: web\n    vip: 10.99.0.100\n    port: 80\n    protocol: tcp\n    mode: dr\n    interface: %sl%s\n' "$P" "$I"
        printf '    arp: false\n    announce: true\n'
        printf '    health: {type: http, request: "GET /running HTTP/1.0", interval: 500ms, timeout: 400ms, rise: 1, fall: 2}\n'
        printf '    backends:\n'
        for (( i = 1; i <= N; i++ )); do printf '      - {name: rs%s, address: 10.99.1.%s}\n' "$i" "$(( 10 + i ))"; done
    } > "$file"
}

# lab_write_ecmp_bird_config PREFIX I FILE: balancer I's BIRD: learn kernel table 100 (the engine's announced VIPs;
# BIRD sees a route go by netlink at once), export it to the router over BGP with this balancer as next hop.
lab_write_ecmp_bird_config() {
    local P="$1" I="$2" file="$3" addr
    addr="10.99.1.$(( 1 + I ))"
    cat > "$file" <<CONF
log "$LAB_DIR/bird$I.log" all;
router id $addr;
protocol device { scan time 1; }
ipv4 table announced;
protocol kernel announced_routes {
    kernel table 100;
    learn;
    scan time 1;
    ipv4 { table announced; import all; export none; };
}
protocol bgp upstream {
    local $addr as 65001;
    neighbor $LAB_ROUTER_LAN_ADDR as 65000;
    hold time 3;
    keepalive time 1;
    connect retry time 1;
    ipv4 { table announced; import none; export where source = RTS_INHERIT; next hop self; };
}
CONF
}

# lab_start_ecmp_node PREFIX I [SEED]: balancer I's configs (lbI.yaml, birdI.conf) unless they exist, then its engine
# (detached, log lbI.log, pid lbI.pid; waits until it answers lb status) and its BIRD (birdI.ctl, birdI.pid).
lab_start_ecmp_node() {
    local P="$1" I="$2" seed="${3:-0x5eed}" ns
    ns="$P-b$I"
    [[ -f "$LAB_DIR/lb$I.yaml" ]] || lab_write_ecmp_config "$P" "$I" "$LAB_DIR/lb$I.yaml" "$seed"
    [[ -f "$LAB_DIR/bird$I.conf" ]] || lab_write_ecmp_bird_config "$P" "$I" "$LAB_DIR/bird$I.conf"
    lab_start_balancer_engine "$P" "$I" || return 1
    if [[ ! -S "$LAB_DIR/bird$I.ctl" ]] || ! ip netns exec "$ns" birdc -s "$LAB_DIR/bird$I.ctl" show status >/dev/null 2>&1; then
        ip netns exec "$ns" bird -c "$LAB_DIR/bird$I.conf" -s "$LAB_DIR/bird$I.ctl" -P "$LAB_DIR/bird$I.pid" </dev/null
    fi
}

# lab_ecmp_next_hops: the router's next hops for the VIP, one address a line (none while nobody announces it).
lab_ecmp_next_hops() {
    ip -n "$LAB_ROUTER_NS" route show "$LAB_VIP/32" | grep -oE 'via 10\.99\.1\.[0-9]+' | awk '{ print $2 }' | sort
}
