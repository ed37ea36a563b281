# shellcheck shell=bash
# The HA lab (lab_up_ha): two balancers side by side, each with keepalived, a DR service and a NAT service on
# the same three real servers, a client behind a router.
#
#   client ns  <P>-c   <P>c0 10.99.2.2/24, default via 10.99.2.1
#        |
#   router ns  <P>-r   <P>r0 10.99.2.1/24   <P>r1 10.99.1.1/24 (LAN), ip_forward=1, rp_filter=2,
#        |             routes 10.99.0.100/32 and 10.99.0.101/32 dev <P>r1 (the VIPs, found by ARP:
#        |             whichever balancer is master answers)
#   switch ns  <P>-s   LAN bridge <P>br: <P>sr (router), <P>sa, <P>sb (balancers' fronts), <P>s1..<P>sN
#        |             back bridge <P>bk: <P>ta, <P>tb (balancers' backs), <P>t1..<P>tN (servers' backs)
#        +-- balancer 1 ns <P>-b1  <P>a0 10.99.1.2/24 (front)  <P>a1 10.99.4.2/24 (back), ip_forward=0
#        +-- balancer 2 ns <P>-b2  <P>b0 10.99.1.3/24 (front)  <P>b1 10.99.4.3/24 (back), ip_forward=0
#        |             10.99.4.1/24 (the NAT servers' gateway) is keepalived's virtual_ipaddress on the master's back
#        +-- server ns <P>-wI  <P>wI 10.99.1.(10+I)/24 (LAN), default via 10.99.1.1, VIP 10.99.0.100/32 on lo
#                              (DR: arp_ignore=1, arp_announce=2); <P>vI 10.99.4.(10+I)/24 (back), and
#                              "from 10.99.4.(10+I) lookup 100", table 100: the back /24 and default via 10.99.4.1, so NAT replies
#                              (from the back address) go back through the balancer and DR replies (from the VIP)
#                              straight to the router; nginx :80 ("rsI"), upload server :8080
# Balancer 1 is also LAB_BALANCER_NS/IF/ADDR. Services: web-dr 10.99.0.100:80 (DR) and web-nat 10.99.0.101:80 (NAT).
# keepalived and the engines are not started here: lab_start_ha_node does that, one balancer at a time.

_LAB_HA_VARS=(LAB_NAT_VIP LAB_HA_NS LAB_HA_FRONT_IFS LAB_HA_FRONT_ADDRS LAB_HA_BACK_IFS LAB_HA_BACK_ADDRS
              LAB_HA_GATEWAY LAB_SERVER_BACK_IFS LAB_SERVER_BACK_ADDRS)

_lab_env_ha() { # P N
    local P="$1" N="$2" i ifs=() addrs=()
    _lab_export_hosts "$P" w 10.99.1 rs "$N"
    export LAB_BALANCER_NS="$P-b1" LAB_BALANCER_IF="${P}a0" LAB_BALANCER_ADDR=10.99.1.2
    export LAB_NAT_VIP=10.99.0.101 LAB_HA_GATEWAY=10.99.4.1
    export LAB_HA_NS="$P-b1 $P-b2" LAB_HA_FRONT_IFS="${P}a0 ${P}b0" LAB_HA_BACK_IFS="${P}a1 ${P}b1"
    export LAB_HA_FRONT_ADDRS="10.99.1.2 10.99.1.3" LAB_HA_BACK_ADDRS="10.99.4.2 10.99.4.3"
    for (( i = 1; i <= N; i++ )); do
        ifs+=("${P}v$i"); addrs+=("10.99.4.$(( 10 + i ))")
    done
    export LAB_SERVER_BACK_IFS="${ifs[*]}" LAB_SERVER_BACK_ADDRS="${addrs[*]}"
}

# Per server (a _lab_create_hosts step): the DR half (VIP on lo), then its back arm and the source route.
_lab_ha_server() { # NS DEV NAME
    local ns="$1" name="$3" i
    _lab_vip_on_lo "$@"
    i="${name#rs}"
    ip link add "${LAB_PREFIX}v$i" netns "$ns" type veth peer name "${LAB_PREFIX}t$i" netns "$LAB_SWITCH_NS"
    ip -n "$LAB_SWITCH_NS" link set "${LAB_PREFIX}t$i" master "${LAB_PREFIX}bk"
    ip -n "$LAB_SWITCH_NS" link set "${LAB_PREFIX}t$i" up
    ip -n "$ns" addr add "10.99.4.$(( 10 + i ))/24" dev "${LAB_PREFIX}v$i"
    ip -n "$ns" link set "${LAB_PREFIX}v$i" up
    ip -n "$ns" rule add from "10.99.4.$(( 10 + i ))" lookup 100
    ip -n "$ns" route add 10.99.4.0/24 dev "${LAB_PREFIX}v$i" table 100
    ip -n "$ns" route add default via "$LAB_HA_GATEWAY" table 100
}

# Runs in its own bash (see _lab_build) under set -e.
_lab_create_ha() {
    _lab_create_begin ha "$@"
    local P="$LAB_PREFIX" k nss fronts backs faddrs baddrs
    read -r -a nss <<< "$LAB_HA_NS"
    read -r -a fronts <<< "$LAB_HA_FRONT_IFS"
    read -r -a backs <<< "$LAB_HA_BACK_IFS"
    read -r -a faddrs <<< "$LAB_HA_FRONT_ADDRS"
    read -r -a baddrs <<< "$LAB_HA_BACK_ADDRS"
    _lab_add_namespaces "${nss[1]}"   # balancer 1 is LAB_BALANCER_NS, made by _lab_create_begin
    ip -n "$LAB_SWITCH_NS" link add "${P}bk" type bridge stp_state 0 forward_delay 0
    ip -n "$LAB_SWITCH_NS" link set "${P}bk" up

    ip link add "$LAB_ROUTER_LAN_IF" netns "$LAB_ROUTER_NS" type veth peer name "${P}sr" netns "$LAB_SWITCH_NS"
    ip link add "${fronts[0]}" netns "${nss[0]}" type veth peer name "${P}sa" netns "$LAB_SWITCH_NS"
    ip link add "${fronts[1]}" netns "${nss[1]}" type veth peer name "${P}sb" netns "$LAB_SWITCH_NS"
    ip link add "${backs[0]}" netns "${nss[0]}" type veth peer name "${P}ta" netns "$LAB_SWITCH_NS"
    ip link add "${backs[1]}" netns "${nss[1]}" type veth peer name "${P}tb" netns "$LAB_SWITCH_NS"
    _lab_host_links "${P}sr" "${P}sa" "${P}sb"
    for k in "${P}ta" "${P}tb"; do
        ip -n "$LAB_SWITCH_NS" link set "$k" master "${P}bk"
        ip -n "$LAB_SWITCH_NS" link set "$k" up
    done

    _lab_client_router_setup
    ip -n "$LAB_ROUTER_NS" route add "$LAB_NAT_VIP/32" dev "$LAB_ROUTER_LAN_IF"

    for k in 0 1; do
        _lab_sysctl "${nss[k]}" net.ipv4.ip_forward=0
        _lab_host_up "${nss[k]}" "${fronts[k]}" "${faddrs[k]}" "$LAB_ROUTER_LAN_ADDR"
        ip -n "${nss[k]}" addr add "${baddrs[k]}/24" dev "${backs[k]}"
        ip -n "${nss[k]}" link set "${backs[k]}" up
    done

    _lab_create_hosts "$LAB_ROUTER_LAN_ADDR" _lab_ha_server
}

_lab_ha_links_up() {
    local nss fronts backs k dev
    read -r -a nss <<< "$LAB_HA_NS"
    read -r -a fronts <<< "$LAB_HA_FRONT_IFS"
    read -r -a backs <<< "$LAB_HA_BACK_IFS"
    for k in 0 1; do
        for dev in "${fronts[k]}" "${backs[k]}"; do
            [[ "$(ip -n "${nss[k]}" -br link show dev "$dev" | awk '{ print $2 }')" == UP ]] || return 1
        done
    done
}

# lab_up_ha PREFIX [N]: builds the HA lab with N real servers (default 3) and waits (bounded) until each
# answers on its LAN address from the client and on its back address from balancer 1.
lab_up_ha() {
    local P="$1" N="${2:-3}"
    _lab_preflight lab_up_ha "$P" "$N" && _lab_need_lb lab_up_ha || return 1
    lab_log "creating HA lab $P with two balancers and $N real servers"
    _lab_build lab_up_ha ha "$P" "$N" || return 1
    if ! lab_wait_for 10 _lab_ha_links_up; then
        lab_warn "lab_up_ha: the balancers' links are not UP within 10 s"
        lab_down "$P"
        return 1
    fi
    _lab_wait_hosts lab_up_ha "$P" "$N" "$LAB_CLIENT_NS" client || return 1
    local saved="$LAB_SERVER_ADDRS"
    LAB_SERVER_ADDRS="$LAB_SERVER_BACK_ADDRS"
    _lab_wait_hosts lab_up_ha "$P" "$N" "$LAB_BALANCER_NS" "balancer (back)" || { LAB_SERVER_ADDRS="$saved"; return 1; }
    LAB_SERVER_ADDRS="$saved"
    _lab_write_env_file "${_LAB_HA_VARS[@]}"
    lab_log "HA lab $P is up (LAB_DIR=$LAB_DIR)"
}

# lab_write_ha_config PREFIX I FILE [SYNC [KEY_FILE]]: balancer I's (1 or 2) engine config: web-dr on
# 10.99.0.100:80 (DR, servers' LAN addresses) and web-nat on 10.99.0.101:80 (NAT, their back addresses), http
# health checks on /running every 500 ms, ha starting as backup, three gratuitous ARPs 1 s apart, and unless
# SYNC is "nosync", state sync with the other balancer over the LAN (KEY_FILE: authenticated).
lab_write_ha_config() {
    local P="$1" I="$2" file="$3" sync="${4:-sync}" key="${5:-}" N i me peer
    _lab_check_prefix "$P" || return 1
    N="$(_lab_host_count "$P" w 3)"
    if [[ "$I" == 1 ]]; then me=a; peer=10.99.1.3; else me=b; peer=10.99.1.2; fi
    local health='    health: {type: http, request: "GET /running HTTP/1.0", interval: 500ms, timeout: 400ms, rise: 1, fall: 2}\n'
    {
        _lab_config_head "$P" "lb$I.sock"
        printf 'services:\n'
        printf '  - name: web-dr\n    vip: 10.99.0.100\n    port: 80\n    protocol: tcp\n    mode: dr\n    interface: %s\n' "$P${me}0"
        printf '%b    backends:\n' "$health"
        for (( i = 1; i <= N; i++ )); do printf '      - {name: rs%s, address: 10.99.1.%s}\n' "$i" "$(( 10 + i ))"; done
        printf '  - name: web-nat\n    vip: 10.99.0.101\n    port: 80\n    protocol: tcp\n    mode: nat\n'
        printf '    interface: %s\n    backend_interface: %s\n' "$P${me}0" "$P${me}1"
        printf '%b    backends:\n' "$health"
        for (( i = 1; i <= N; i++ )); do printf '      - {name: rs%s, address: 10.99.4.%s}\n' "$i" "$(( 10 + i ))"; done
        printf 'ha:\n  initial_role: backup\n  garp: {count: 3, interval: 1s}\n'
        if [[ "$sync" != nosync ]]; then
            printf '  sync:\n    peer: %s\n    interface: %s\n' "$peer" "$P${me}0"
            if [[ -n "$key" ]]; then printf "    key_file: %s\n" "$key"; fi
        fi
    } > "$file"
}

# lab_write_keepalived_config PREFIX I FILE LB_CONFIG: balancer I's keepalived.conf: one VRRP instance on the
# front (unicast to the other balancer, advert_int 1, priority 150 for balancer 1 and 100 for balancer 2, so 1
# preempts), the NAT gateway 10.99.4.1/24 on the back as its virtual address, `lb ha check` as a tracked script
# (fall 2, rise 2), and notify_master/backup/fault calling `lb ha ...` with the engine's config.
lab_write_keepalived_config() {
    local P="$1" I="$2" file="$3" lbconf="$4" me src peer prio
    if [[ "$I" == 1 ]]; then me=a; src=10.99.1.2; peer=10.99.1.3; prio=150; else me=b; src=10.99.1.3; peer=10.99.1.2; prio=100; fi
    local lb="$LAB_DIR/lb"
    if [[ ! -x "$lb" ]]; then
        printf '#!/bin/sh\nexec dotnet %s "$@"\n' "$LB_DLL" > "$lb"
        chmod 0755 "$lb"
    fi
    cat > "$file" <<CONF
global_defs {
    router_id ${P}-lb$I
    script_user root
    vrrp_garp_master_repeat 3
    vrrp_garp_master_refresh 0
}
vrrp_script lb_ok {
    script "$lb ha check --config $lbconf"
    interval 1
    timeout 2
    fall 2
    rise 2
}
vrrp_instance LB {
    state BACKUP
    interface $P${me}0
    virtual_router_id 51
    priority $prio
    advert_int 1
    unicast_src_ip $src
    unicast_peer {
        $peer
    }
    virtual_ipaddress {
        $LAB_HA_GATEWAY/24 dev $P${me}1
    }
    track_script {
        lb_ok
    }
    notify_master "$lb ha master --config $lbconf"
    notify_backup "$lb ha backup --config $lbconf"
    notify_fault "$lb ha fault --config $lbconf"
}
CONF
}

# lab_start_ha_node PREFIX I [SYNC [KEY_FILE]]: writes balancer I's configs (lbI.yaml, keepalivedI.conf) unless
# they exist, then starts its engine (lab_start_balancer_engine) and keepalived in its namespace, detached, logs in
# $LAB_DIR/keepalivedI.log, pids in keepalivedI.pid and vrrpI.pid.
lab_start_ha_node() {
    local P="$1" I="$2" sync="${3:-sync}" key="${4:-}" ns
    ns="$P-b$I"
    [[ -f "$LAB_DIR/lb$I.yaml" ]] || lab_write_ha_config "$P" "$I" "$LAB_DIR/lb$I.yaml" "$sync" "$key"
    [[ -f "$LAB_DIR/keepalived$I.conf" ]] || lab_write_keepalived_config "$P" "$I" "$LAB_DIR/keepalived$I.conf" "$LAB_DIR/lb$I.yaml"
    lab_start_balancer_engine "$P" "$I" || return 1
    # keepalived in the foreground of its own detached subshell (-n), VRRP only (-P: no checker or BFD child), with
    # every pid file of its own: it refuses to start ("daemon is already running") when a pid file it reads names
    # a live process, and a SIGKILLed instance leaves its files behind for another process to reuse the pid.
    rm -f "$LAB_DIR/keepalived$I.pid" "$LAB_DIR/vrrp$I.pid"
    ( ip netns exec "$ns" keepalived -n -l -D -P -f "$LAB_DIR/keepalived$I.conf" -p "$LAB_DIR/keepalived$I.pid" \
        -r "$LAB_DIR/vrrp$I.pid" -c "$LAB_DIR/checkers$I.pid" -b "$LAB_DIR/bfd$I.pid" </dev/null >> "$LAB_DIR/keepalived$I.log" 2>&1 & )
}

# lab_kill_ha_node PREFIX I: the host dies: keepalived's children, then keepalived and the engine SIGKILLed, and
# the addresses keepalived held removed (a dead host holds nothing).
lab_kill_ha_node() {
    local P="$1" I="$2" ns pid
    ns="$P-b$I"
    for pid in $(cat "$LAB_DIR/vrrp$I.pid" 2>/dev/null) $(cat "$LAB_DIR/keepalived$I.pid" 2>/dev/null) $(cat "$LAB_DIR/lb$I.pid" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    ip -n "$ns" addr del "$LAB_HA_GATEWAY/24" dev "$P$([[ "$I" == 1 ]] && echo a || echo b)1" 2>/dev/null || true
}
