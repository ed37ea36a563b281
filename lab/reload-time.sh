#!/usr/bin/env bash
# How long a live reload takes with a full flow table (issue 13's closing figure). As root:
#
#   ./lab/reload-time.sh [FLOWS]     (default 1000000)
#
# Builds a DR lab with a generator arm (lab_up + lab_add_generator), runs the engine on a UDP sink service
# (flow table 2^21, UDP flows kept 600 s), fills the table with FLOWS distinct flows from the generator
# (lb generate, 62,500 source ports per source address, 16+ addresses), then times `lb reload` (from the
# command's start to its answer, the lb process start included, and the engine's own figure from its log)
# for: the same file (no changes), a weight change, and a backend removed under on_backend_down keep (the one
# kind of reload that counts the live flows of every worker). Prints one line per case; tears the lab down
# on exit, failure or Ctrl-C. Every send is bounded by rate and duration, to the lab's own VIP only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/topology.sh"

FLOWS="${1:-1000000}"
PER_SOURCE=62500
RATE=150000

lab_require_root
lab_require_dotnet
lab_install_packages
lab_build >/dev/null
export LB_DLL="$LAB_ROOT/src/LoadBalancer.Cli/bin/Release/net10.0/lb.dll"

P="$(lab_new_prefix)"
ENGINE_PID=""
cleanup() {
    [[ -n "$ENGINE_PID" ]] && kill -TERM "$ENGINE_PID" 2>/dev/null && wait "$ENGINE_PID" 2>/dev/null || true
    lab_down "$P" >/dev/null 2>&1 || true
}
lab_setup_traps cleanup

lab_up "$P" 2 >/dev/null
lab_set_env "$P"
lab_add_generator "$P"

config() { # FILE WEIGHT_OF_RS2 WITH_RS2
    {
        printf 'workers: 1\ncontrol_socket: %s/reload-time.sock\nflow_table_size: 2097152\n' "$LAB_DIR"
        printf 'flow_timeouts: {udp: 600s}\nservices:\n  - name: sink\n    vip: %s\n    port: 9\n    protocol: udp\n' "$LAB_VIP"
        printf '    mode: dr\n    interface: %s\n    backend_interface: %s\n    on_backend_down: keep\n    backends:\n' "$LAB_BALANCER_GEN_IF" "$LAB_BALANCER_IF"
        printf '      - {name: rs1, address: 10.99.1.11}\n'
        if [[ "$3" == yes ]]; then printf '      - {name: rs2, address: 10.99.1.12, weight: %s}\n' "$2"; fi
    } > "$1"
}
CONF="$LAB_DIR/reload-time.yaml"
config "$CONF" 100 yes
ip netns exec "$LAB_BALANCER_NS" dotnet "$LB_DLL" run --config "$CONF" > "$LAB_DIR/reload-time.log" 2>&1 &
ENGINE_PID=$!
lb_status() { ip netns exec "$LAB_BALANCER_NS" dotnet "$LB_DLL" status --json --config "$CONF"; }
for (( i = 0; ; i++ )); do
    (( i < 150 )) || { echo "the engine's backends were not active within 30 s" >&2; tail "$LAB_DIR/reload-time.log" >&2; exit 1; }
    [[ "$(lb_status 2>/dev/null | grep -oE '"state": ?"active"' | wc -l)" == 2 ]] && break
    sleep 0.2
done

MAC="$(ip -n "$LAB_BALANCER_NS" -br link show dev "$LAB_BALANCER_GEN_IF" | awk '{print $3}')"
sent=0 source=0
while (( sent < FLOWS )); do
    n=$(( FLOWS - sent < PER_SOURCE ? FLOWS - sent : PER_SOURCE ))
    ip -n "$LAB_GEN_NS" addr add "10.99.3.$(( 100 + source ))/24" dev "$LAB_GEN_IF" 2>/dev/null || true
    # One frame per flow: the generator walks its source ports in turn, so rate x duration = n covers each once.
    ip netns exec "$LAB_GEN_NS" timeout 30 dotnet "$LB_DLL" generate --interface "$LAB_GEN_IF" --dst-mac "$MAC" \
        --src "10.99.3.$(( 100 + source ))" --dst "$LAB_VIP" --flows "$n" --rate "$RATE" \
        --duration "$(python3 -c "print(round($n * 1.2 / $RATE, 3))")" > /dev/null
    sent=$(( sent + n )) source=$(( source + 1 ))
done
flows="$(lb_status | python3 -c 'import json,sys; print(sum(s["flows"] for s in json.load(sys.stdin)["services"]))')"
echo "flows in the table: $flows (offered $FLOWS from $source source addresses)"

reload() { # LABEL
    local start end rc=0
    start=$(date +%s%N)
    ip netns exec "$LAB_BALANCER_NS" dotnet "$LB_DLL" reload --config "$CONF" > "$LAB_DIR/reload-out.txt" 2>&1 || rc=$?
    end=$(date +%s%N)
    printf '%-28s %6d ms  exit %d  %s\n' "$1" $(( (end - start) / 1000000 )) "$rc" "$(tr '\n' ';' < "$LAB_DIR/reload-out.txt" | cut -c1-120)"
}
reload "same file (no changes)"
config "$CONF" 50 yes
reload "weight changed"
config "$CONF" 50 no
reload "backend removed (keep)"
grep -E "reload applied|leaving" "$LAB_DIR/reload-time.log" | tail -n 4
