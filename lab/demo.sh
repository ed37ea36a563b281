#!/usr/bin/env bash
# LoadBalancer demo. Needs root: it builds a lab of network namespaces.
#
#   ./lab/demo.sh [dr|dr6|nat|nat6|clusterip|clusterip6|ha|ecmp]   (as root; default dr)
#
# Builds the solution, brings up a DR lab (client -> router -> switch -> balancer
# + 2 real servers running nginx), starts the engine in the balancer namespace,
# makes 100 new HTTP connections from the client to the VIP 10.99.0.100 and
# shows which real server answered each.
# With dr6: the same lab (it is dual stack) and engine, the 100 connections over
# IPv6 to [2001:db8::100] (the web6 service, DR6).
# With nat: the same on a two-armed NAT lab (client -> router -> balancer ->
# back bridge -> 2 real servers on 10.99.4.0/24 whose gateway is the balancer;
# rs2 serves the web service on its port 8081).
# With nat6: the same NAT lab (it is dual stack; its back segment narrowed to MTU
# 1400) and engine, the 100 connections over IPv6 to [2001:db8::100] (the web6
# service, NAT66; servers 2001:db8:4::11 and ::12, their IPv6 gateway the balancer).
# With clusterip: a CLUSTERIP lab of 3 nodes (no balancer: each node runs nginx
# and its own engine, which answers ARP for the VIP with the multicast cluster MAC
# and keeps only its share of the flows); the demo waits until every engine reports
# the same table digest and all 3 nodes alive, then makes the same 100 connections
# (answers are node1..node3) and shows each node's digest and shares.
# With clusterip6: the same cluster (the lab is dual stack and every node's engine
# also serves web6 on [2001:db8::100]:80 behind the cluster MAC 33:33:00:00:01:00,
# found by neighbour discovery), the 100 connections over IPv6.
# With ha: two balancers, each with keepalived from Debian (one VRRP instance,
# notify_* calling `lb ha ...`, a vrrp_script calling `lb ha check`) and state
# sync between the engines, a DR service (10.99.0.100) and a NAT service
# (10.99.0.101) on the same 3 nginx servers; the demo starts six throttled
# downloads per service, kills the master (engine and keepalived SIGKILLed,
# its addresses removed), shows how long new connections took to be served
# again and that every download completed intact, then brings the first
# balancer back and shows keepalived hand the VIPs back to it.
# With ecmp: three balancers (same config and seed, DR, the VIP routed to them),
# each announcing the VIP by BIRD 2 to a router that spreads flows over them by
# ECMP; the demo shows the router's three next hops and the flows each balancer
# carried over 100 connections, then SIGKILLs one engine in the middle of six
# downloads, shows how fast its route left the router and that every download
# completed intact.
# Everything it creates lives in namespaces named lbXXXX-* and is torn down on
# exit, failure or Ctrl-C.
# Exit 0 only if all 100 requests succeeded and every real server answered
# (ha: every download intact and new connections served within 5 s; ecmp: every
# balancer carried flows, the route left within 3 s, every download intact).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/topology.sh"

MODE="${1:-dr}"
case "$MODE" in
    dr|dr6|nat|nat6|clusterip|clusterip6|ha|ecmp) ;;
    *) echo "mode $MODE is not available yet" >&2; exit 2 ;;
esac

REQUESTS=100
READY_TIMEOUT=30
CLUSTER_READY_TIMEOUT=60
CLUSTER_NODES=3
# clusterip, clusterip6: the service whose table the demo waits for and reports.
CLUSTER_SERVICE=web
[[ "$MODE" == clusterip6 ]] && CLUSTER_SERVICE=web6
STOP_TIMEOUT=15

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

lab_require_root
lab_require_dotnet
lab_install_packages
echo "== building (Release)"
lab_build
[[ -f "$LB_DLL" ]] || lab_die "build did not produce $LB_DLL"

P="$(lab_new_prefix)"
LB_PID=""
# clusterip: the engine PID of node I is NODE_PIDS[I-1] ("" once stopped).
NODE_PIDS=()

# stop_pids LABEL PID...: sends SIGTERM to every PID (a background .NET process
# ignores SIGINT), waits for them all, bounded; SIGKILL for any that does not go.
# Prints each one's exit status as "LABEL exited with status N" (LABEL gets
# " on nodeI" appended when there is more than one PID).
stop_pids() {
    local label="$1" i pid rc alive
    shift
    local pids=("$@")
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        (( alive )) || break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        pid="${pids[$i]}"
        local what="$label"
        (( ${#pids[@]} > 1 )) && what="$label on node$(( i + 1 ))"
        if kill -0 "$pid" 2>/dev/null; then
            echo "$what did not stop within ${STOP_TIMEOUT}s of SIGTERM: killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        echo "$what exited with status $rc"
    done
}

# Stops the engine with SIGTERM and waits for it, bounded; SIGKILL if it does
# not go. Prints its exit status.
stop_engine() {
    [[ -n "$LB_PID" ]] || return 0
    local pid="$LB_PID"
    LB_PID=""
    stop_pids engine "$pid"
}

# clusterip: stops every node's engine the same way, all at once.
stop_node_engines() {
    local pids=() pid
    for pid in "${NODE_PIDS[@]}"; do
        [[ -n "$pid" ]] && pids+=("$pid")
    done
    NODE_PIDS=()
    (( ${#pids[@]} > 0 )) || return 0
    stop_pids engine "${pids[@]}"
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    stop_engine || true
    stop_node_engines || true
    lab_down "$P"
}
lab_setup_traps cleanup

# run_requests: REQUESTS new connections from the client to the VIP, then the
# table of which server answered. Sets failures and missing (globals).
run_requests() {
    local url="http://$LAB_VIP/" family=-4
    if [[ "$MODE" == dr6 || "$MODE" == nat6 || "$MODE" == clusterip6 ]]; then url="http://[$LAB_VIP6]/" family=-6; fi
    echo "== $REQUESTS new connections from the client to $url"
    local -a NAMES=()
    local name out c i
    read -r -a NAMES <<< "$LAB_SERVER_NAMES"
    local -A COUNT=()
    for name in "${NAMES[@]}"; do COUNT[$name]=0; done
    failures=0
    local others=0
    for (( i = 0; i < REQUESTS; i++ )); do
        if out="$(ip netns exec "$LAB_CLIENT_NS" curl "$family" -s --noproxy '*' --max-time 3 "$url")"; then
            if [[ "$out" =~ ^[a-z0-9]+$ && -n "${COUNT[$out]+x}" ]]; then
                COUNT[$out]=$(( COUNT[$out] + 1 ))
            else
                others=$(( others + 1 ))
                failures=$(( failures + 1 ))
            fi
        else
            failures=$(( failures + 1 ))
        fi
    done

    echo
    printf '%-8s %6s %7s\n' server count share
    missing=0
    for name in "${NAMES[@]}"; do
        c=${COUNT[$name]}
        printf '%-8s %6d %4d.%d%%\n' "$name" "$c" $(( c * 100 / REQUESTS )) $(( (c * 1000 / REQUESTS) % 10 ))
        (( c > 0 )) || missing=$(( missing + 1 ))
    done
    if (( others > 0 )); then
        echo "failures: $failures of $REQUESTS ($others answered with an unexpected body)"
    else
        echo "failures: $failures of $REQUESTS"
    fi
}

# finish: the verdict line and exit status from failures and missing.
finish() {
    if (( failures == 0 && missing == 0 )); then
        echo "demo OK: $REQUESTS/$REQUESTS requests answered, every real server used"
        exit 0
    fi
    echo "demo FAILED: $failures failed requests, $missing real servers never answered" >&2
    exit 1
}

# clusterip: `lb status --json` of every node, one document a line, on stdout
# (an empty line for a node that does not answer).
cluster_status_json() {
    local i
    for (( i = 1; i <= CLUSTER_NODES; i++ )); do
        timeout 10 dotnet "$LB_DLL" status --socket "$LAB_DIR/lb-node$i.sock" --json 2>/dev/null | tr -d '\n' || true
        echo
    done
}

# clusterip: ready when every engine answers, all show the same non-empty digest
# on CLUSTER_SERVICE and each lists all CLUSTER_NODES nodes with "alive": true.
cluster_ready() {
    cluster_status_json | "$LAB_PYTHON" -c '
import json, sys
want = int(sys.argv[1])
digests = set()
n = 0
for line in sys.stdin:
    n += 1
    try:
        svc = next(s for s in json.loads(line)["services"] if s["name"] == sys.argv[2])
    except Exception:
        sys.exit(1)
    nodes = svc.get("nodes") or []
    if not svc.get("digest") or len(nodes) != want or not all(x.get("alive") is True for x in nodes):
        sys.exit(1)
    digests.add(svc["digest"])
sys.exit(0 if n == want and len(digests) == 1 else 1)
' "$CLUSTER_NODES" "$CLUSTER_SERVICE"
}

# clusterip: one line per node (CLUSTER_SERVICE's): digest, quorum, accepted/dropped packets, shares.
cluster_summary() {
    cluster_status_json | "$LAB_PYTHON" -c '
import json, sys
for i, line in enumerate(sys.stdin, 1):
    try:
        s = next(x for x in json.loads(line)["services"] if x["name"] == sys.argv[1])
    except Exception:
        print(f"node{i}: (lb status failed)")
        continue
    shares = " ".join("node%s=%s%s" % (x.get("id"), x.get("share"), "" if x.get("alive") else "(dead)")
                      for x in s.get("nodes", []))
    print("node%d: digest %s  quorum %s  accepted %s  dropped %s  flows %s  shares %s" % (
        i, s.get("digest"), "yes" if s.get("quorum") else "no",
        s.get("accepted"), s.get("dropped"), s.get("flows"), shares))
' "$CLUSTER_SERVICE"
}

if [[ "$MODE" == clusterip || "$MODE" == clusterip6 ]]; then
    echo "== bringing up the CLUSTERIP lab ($P)"
    lab_up_cluster "$P" "$CLUSTER_NODES"
    read -r -a NODE_NSS <<< "$LAB_NODE_NS"
    for (( n = 1; n <= CLUSTER_NODES; n++ )); do
        lab_write_cluster_config "$P" "$n" "$LAB_DIR/node$n.yaml"
    done
    for (( n = 1; n <= CLUSTER_NODES; n++ )); do
        echo "== starting the engine in ${NODE_NSS[n - 1]}"
        ip netns exec "${NODE_NSS[n - 1]}" dotnet "$LB_DLL" run --config "$LAB_DIR/node$n.yaml" \
            </dev/null > "$LAB_DIR/lb-node$n.log" 2>&1 &
        NODE_PIDS+=("$!")
    done

    deadline=$(( SECONDS + CLUSTER_READY_TIMEOUT ))
    ready=0
    while (( SECONDS < deadline )); do
        for (( n = 1; n <= CLUSTER_NODES; n++ )); do
            if ! kill -0 "${NODE_PIDS[n - 1]}" 2>/dev/null; then
                echo "the engine on node$n exited during startup; lb-node$n.log:" >&2
                cat "$LAB_DIR/lb-node$n.log" >&2
                exit 1
            fi
        done
        if cluster_ready; then ready=1; break; fi
        sleep 0.5
    done
    if (( ! ready )); then
        echo "the cluster did not agree within ${CLUSTER_READY_TIMEOUT}s; status per node:" >&2
        cluster_summary >&2 || true
        for (( n = 1; n <= CLUSTER_NODES; n++ )); do
            echo "--- lb-node$n.log (last 20 lines)" >&2
            tail -n 20 "$LAB_DIR/lb-node$n.log" >&2 || true
        done
        exit 1
    fi
    echo "cluster ready: every engine has the same table, all $CLUSTER_NODES nodes alive"

    run_requests

    echo
    echo "== lb status per node"
    cluster_summary || echo "(lb status failed)" >&2

    echo
    echo "== stopping the engines (SIGTERM)"
    stop_node_engines

    finish
fi

if [[ "$MODE" == ecmp ]]; then
    echo "== bringing up the ECMP lab ($P): a BIRD router, three balancers with BIRD, 3 real servers"
    lab_up_ecmp "$P" 3
    flows_of() { ip netns exec "$P-b$1" dotnet "$LB_DLL" status --json --config "$LAB_DIR/lb$1.yaml" 2>/dev/null |
                 "$LAB_PYTHON" -c 'import json,sys; s=json.load(sys.stdin)["services"][0]; print(s["flows"], s["table_digest"])'; }
    three_hops() { (( $(lab_ecmp_next_hops | wc -l) == 3 )); }
    echo "== starting the three engines and their BIRD"
    for n in 1 2 3; do lab_start_ecmp_node "$P" "$n"; done
    lab_wait_for 30 three_hops || lab_die "the router did not get three next hops for $LAB_VIP within 30 s"
    echo "router: $(ip -n "$LAB_ROUTER_NS" route show "$LAB_VIP/32" | tr -s ' \n\t' ' ')"
    run_requests
    for n in 1 2 3; do read -r f d <<< "$(flows_of "$n")"; echo "balancer $n: $f flows, table digest $d"; done
    carried=1
    for n in 1 2 3; do read -r f _ <<< "$(flows_of "$n")"; (( f > 0 )) || carried=0; done

    echo "== six throttled downloads of /big (500 kB/s each), then balancer 2's engine SIGKILLed"
    ip netns exec "$LAB_CLIENT_NS" sysctl -qw net.ipv4.tcp_rmem='4096 32768 65536'
    DL_PIDS=()
    for i in 1 2 3 4 5 6; do
        ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 90 --limit-rate 500k --speed-time 10 --speed-limit 1 \
            -o "$LAB_DIR/dl-$i" "http://$LAB_VIP/big" &
        DL_PIDS+=($!)
    done
    sleep 3
    t_kill=$(date +%s%N)
    kill -KILL "$(cat "$LAB_DIR/lb2.pid")"
    gone=0
    for (( i = 0; i < 100; i++ )); do
        hops="$(lab_ecmp_next_hops)" # captured: grep -q in a pipe under pipefail can fail on SIGPIPE
        if [[ $'\n'"$hops"$'\n' != *$'\n'10.99.1.3$'\n'* ]]; then gone=1; break; fi
        sleep 0.05
    done
    gap_ms=$(( ($(date +%s%N) - t_kill) / 1000000 ))
    (( gone )) && echo "balancer 2's route left the router $gap_ms ms after SIGKILL (nobody cleaned up: its TUN went with the process)" ||
        echo "balancer 2's route was still at the router 5 s after SIGKILL" >&2
    broken=0
    for pid in "${DL_PIDS[@]}"; do wait "$pid" || broken=$(( broken + 1 )); done
    for f in "$LAB_DIR"/dl-*; do [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$LAB_BIG_SHA256" ]] || broken=$(( broken + 1 )); done
    echo "downloads: $(( broken > 6 ? 0 : 6 - broken ))/6 complete and byte-identical"
    if (( failures == 0 && missing == 0 && carried && gone && gap_ms < 3000 && broken == 0 )); then
        echo "demo OK: three balancers shared the flows, one died, no download broke"
        exit 0
    fi
    echo "demo FAILED: $failures failed requests, every balancer carried flows: $carried, route gone: $gone ($gap_ms ms), $broken broken downloads" >&2
    exit 1
fi

if [[ "$MODE" == ha ]]; then
    echo "== bringing up the HA lab ($P): two balancers, keepalived on each, 3 real servers"
    lab_up_ha "$P" 3
    lb_on() { local n="$1"; shift; ip netns exec "$P-b$n" dotnet "$LB_DLL" "$@" --config "$LAB_DIR/lb$n.yaml"; }
    role_of() { lb_on "$1" status --json 2>/dev/null | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["ha"]["role"])' 2>/dev/null; }
    sync_of() { lb_on "$1" status --json 2>/dev/null | "$LAB_PYTHON" -c 'import json,sys; s=json.load(sys.stdin)["ha"]["sync"]; print(s["sent"], s["entries_sent"])'; }
    both_roles() { [[ "$(role_of 1)" == master && "$(role_of 2)" == backup ]]; }
    echo "== starting balancer 2, then balancer 1 (engine, then keepalived; balancer 1 has the higher VRRP priority)"
    lab_start_ha_node "$P" 2
    lab_start_ha_node "$P" 1
    lab_wait_for 30 both_roles || lab_die "keepalived did not make balancer 1 master and balancer 2 backup within 30 s"
    for n in 1 2; do echo "balancer $n: $(lb_on "$n" status | head -1)"; done

    echo "== new connections for 5 s through both VIPs, to see what sync costs"
    read -r m0 e0 <<< "$(sync_of 1)"
    conns=0 t0=$SECONDS
    while (( SECONDS - t0 < 5 )); do
        for vip in "$LAB_VIP" "$LAB_NAT_VIP"; do
            ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 2 -o /dev/null "http://$vip/" && conns=$(( conns + 1 ))
        done
    done
    read -r m1 e1 <<< "$(sync_of 1)"
    echo "$conns connections in 5 s ($(( conns / 5 ))/s): balancer 1 sent $(( (m1 - m0) / 5 )) sync messages/s carrying $(( (e1 - e0) / 5 )) entries/s (hellos included)"

    echo "== six throttled downloads of /big per service (500 kB/s each)"
    ip netns exec "$LAB_CLIENT_NS" sysctl -qw net.ipv4.tcp_rmem='4096 32768 65536'
    DL_PIDS=()
    for vip in "$LAB_VIP" "$LAB_NAT_VIP"; do
        for i in 1 2 3 4 5 6; do
            ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 90 --limit-rate 500k --speed-time 10 --speed-limit 1 \
                -o "$LAB_DIR/dl-$vip-$i" "http://$vip/big" &
            DL_PIDS+=($!)
        done
    done
    sleep 3
    echo "== balancer 1 dies: keepalived and the engine SIGKILLed, its addresses removed"
    t_fail=$(date +%s%N)
    lab_kill_ha_node "$P" 1
    served=0
    for (( i = 0; i < 150; i++ )); do
        if ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 0.5 -o /dev/null "http://$LAB_VIP/" &&
           ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 0.5 -o /dev/null "http://$LAB_NAT_VIP/"; then served=1; break; fi
    done
    gap_ms=$(( ($(date +%s%N) - t_fail) / 1000000 ))
    (( served )) && echo "new connections through both VIPs served again after $gap_ms ms (balancer 2: $(role_of 2))" ||
        echo "new connections were not served again within 15 s" >&2
    echo "== balancer 1 comes back (it gets balancer 2's tables at once; keepalived preempts)"
    lab_start_ha_node "$P" 1
    lab_wait_for 30 both_roles || echo "balancer 1 did not become master again within 30 s" >&2
    broken=0
    for pid in "${DL_PIDS[@]}"; do wait "$pid" || broken=$(( broken + 1 )); done
    for f in "$LAB_DIR"/dl-*; do [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$LAB_BIG_SHA256" ]] || broken=$(( broken + 1 )); done
    echo "downloads: $(( 12 - broken < 0 ? 0 : 12 - broken ))/12 complete and byte-identical across the failover and the failback"
    echo
    echo "== lb status on balancer 1"
    lb_on 1 status || true
    if (( broken == 0 && served && gap_ms < 5000 )); then
        echo "demo OK: failover in $gap_ms ms, every download intact"
        exit 0
    fi
    echo "demo FAILED: $broken broken downloads, failover gap $gap_ms ms" >&2
    exit 1
fi

case "$MODE" in
    nat)  LAB_UP=lab_up_nat WRITE_CONFIG=lab_write_nat_config WHAT="NAT lab" ;;
    # The narrower back segment is what makes the balancer's Packet Too Big part of the IPv6 path.
    nat6) export LAB_NAT_BACK_MTU=1400
          LAB_UP=lab_up_nat WRITE_CONFIG=lab_write_nat_config WHAT="dual-stack NAT lab (back MTU 1400)" ;;
    *)   LAB_UP=lab_up     WRITE_CONFIG=lab_write_dr_config  WHAT="lab" ;;
esac
echo "== bringing up the $WHAT ($P)"
"$LAB_UP" "$P" 2
CFG="$LAB_DIR/lb.yaml"
SOCK="$LAB_DIR/lb.sock"
"$WRITE_CONFIG" "$P" "$CFG"

echo "== starting the engine in $LAB_BALANCER_NS"
ip netns exec "$LAB_BALANCER_NS" dotnet "$LB_DLL" run --config "$CFG" </dev/null > "$LAB_DIR/lb.log" 2>&1 &
LB_PID=$!

# Ready when `lb status --json` answers and no backend is still "unresolved".
# Backends are the entries of any "backends" list in the JSON; if there is no
# such list, every "state" value anywhere must be something else than "unresolved".
status_ready() {
    local json
    json="$(dotnet "$LB_DLL" status --socket "$SOCK" --json 2>/dev/null)" || return 1
    printf '%s' "$json" | "$LAB_PYTHON" -c '
import json, sys
doc = json.load(sys.stdin)
backends, states = [], []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "backends" and isinstance(v, list):
                backends.extend(v)
            if k == "state":
                states.append(v)
            walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
walk(doc)
if backends:
    ok = all(isinstance(b, dict) and b.get("state") not in (None, "unresolved") for b in backends)
else:
    ok = bool(states) and all(s != "unresolved" for s in states)
sys.exit(0 if ok else 1)
'
}

deadline=$(( SECONDS + READY_TIMEOUT ))
ready=0
while (( SECONDS < deadline )); do
    if ! kill -0 "$LB_PID" 2>/dev/null; then
        echo "the engine exited during startup; lb.log:" >&2
        cat "$LAB_DIR/lb.log" >&2
        exit 1
    fi
    if status_ready; then ready=1; break; fi
    sleep 0.3
done
if (( ! ready )); then
    echo "the engine was not ready within ${READY_TIMEOUT}s; lb.log:" >&2
    cat "$LAB_DIR/lb.log" >&2
    exit 1
fi
echo "engine ready"

run_requests

echo
echo "== lb status"
dotnet "$LB_DLL" status --socket "$SOCK" || echo "(lb status failed)" >&2

echo
echo "== stopping the engine (SIGTERM)"
stop_engine

finish
