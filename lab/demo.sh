#!/usr/bin/env bash
# LoadBalancer demo. Needs root: it builds a lab of network namespaces.
#
#   sudo lab/demo.sh [dr|nat]        (default dr)
#
# Builds the solution, brings up a DR lab (client -> router -> switch -> balancer
# + 2 real servers running nginx), starts the engine in the balancer namespace,
# makes 100 new HTTP connections from the client to the VIP 10.99.0.100 and
# shows which real server answered each.
# With nat: the same on a two-armed NAT lab (client -> router -> balancer ->
# back bridge -> 2 real servers on 10.99.4.0/24 whose gateway is the balancer;
# rs2 serves the web service on its port 8081). Everything it creates lives in
# namespaces named lbXXXX-* and is torn down on exit, failure or Ctrl-C.
# Exit 0 only if all 100 requests succeeded and every real server answered.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib/topology.sh"

MODE="${1:-dr}"
case "$MODE" in
    dr|nat) ;;
    *) echo "mode $MODE is not available yet" >&2; exit 2 ;;
esac

REQUESTS=100
READY_TIMEOUT=30
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

# Stops the engine with SIGTERM (a background .NET process ignores SIGINT) and
# waits for it, bounded; SIGKILL if it does not go. Prints its exit status.
stop_engine() {
    [[ -n "$LB_PID" ]] || return 0
    local pid="$LB_PID" i rc=0
    LB_PID=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "engine did not stop within ${STOP_TIMEOUT}s of SIGTERM: killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    echo "engine exited with status $rc"
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    stop_engine || true
    lab_down "$P"
}
lab_setup_traps cleanup

case "$MODE" in
    nat) LAB_UP=lab_up_nat WRITE_CONFIG=lab_write_nat_config WHAT="NAT lab" ;;
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

echo "== $REQUESTS new connections from the client to http://$LAB_VIP/"
read -r -a NAMES <<< "$LAB_SERVER_NAMES"
declare -A COUNT=()
for name in "${NAMES[@]}"; do COUNT[$name]=0; done
failures=0
others=0
for (( i = 0; i < REQUESTS; i++ )); do
    if out="$(ip netns exec "$LAB_CLIENT_NS" curl -s --noproxy '*' --max-time 3 "http://$LAB_VIP/")"; then
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

echo
echo "== lb status"
dotnet "$LB_DLL" status --socket "$SOCK" || echo "(lb status failed)" >&2

echo
echo "== stopping the engine (SIGTERM)"
stop_engine

if (( failures == 0 && missing == 0 )); then
    echo "demo OK: $REQUESTS/$REQUESTS requests answered, every real server used"
    exit 0
fi
echo "demo FAILED: $failures failed requests, $missing real servers never answered" >&2
exit 1
