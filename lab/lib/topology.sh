# shellcheck shell=bash
# Lab topologies in network namespaces (DR, NAT and CLUSTERIP). Source it; it only defines functions.
# The one file callers source: it pulls in common.sh and the labs under lab/lib/labs/:
#   shared.sh     what every lab shares: prefixes, LAB_* variables, the build steps, waiting, teardown
#   dr.sh         the DR lab (lab_up), its config writer, the generator arm (drawing at its top)
#   nat.sh        the two-armed NAT lab (lab_up_nat) and its config writer (drawing at its top)
#   clusterip.sh  the CLUSTERIP lab (lab_up_cluster) and its per-node config writer (drawing at its top)
#   ha.sh         the HA lab (lab_up_ha): two balancers with keepalived, DR and NAT services (drawing at its top)
#   ecmp.sh       the ECMP lab (lab_up_ecmp): three balancers announcing the VIP by BGP (BIRD 2) to an ECMP router
#
# Every lab: client ns <P>-c -> router ns <P>-r -> a bridge in switch ns <P>-s, 10.99.2.0/24 on the client
# side, the VIP 10.99.0.100; hosts named <P>-wI (servers rsI) or, in a CLUSTERIP lab, <P>-nI (nodes nodeI).
#
# Usage:
#   source lab/lib/topology.sh
#   P=$(lab_new_prefix)
#   lab_setup_traps "lab_down $P"      # teardown on exit, error, Ctrl-C, SIGTERM
#   lab_up "$P" 2                      # builds it and waits until every server answers
#   lab_write_dr_config "$P" "$LAB_DIR/lb.yaml"
#   ...
#   lab_down "$P"                      # idempotent; also fine on a half-built lab
# or, for NAT, lab_up_nat "$P" 2 and lab_write_nat_config "$P" "$LAB_DIR/lb.yaml";
# or, for CLUSTERIP, lab_up_cluster "$P" 3 and, per node I, lab_write_cluster_config "$P" I "$LAB_DIR/lb-nodeI.yaml".
#
# Functions: lab_new_prefix, lab_set_env, lab_up, lab_up_nat, lab_up_cluster, lab_down, lab_write_dr_config,
#            lab_write_nat_config, lab_write_cluster_config, lab_namespaces,
#            lab_server_{stop,start,softstop,softstart} (DR/NAT servers), lab_add_generator (DR lab only: it
#            uses the name <P>b1) (plus everything from common.sh).
#
# Exported by lab_up / lab_up_nat / lab_up_cluster / lab_set_env (lists are space-separated, in server order):
#   LAB_MODE (dr, nat or clusterip)
#   LAB_PREFIX LAB_DIR LAB_N LAB_VIP LAB_HTTP_PORT LAB_UPLOAD_PORT
#   LAB_CLIENT_NS LAB_CLIENT_IF LAB_CLIENT_ADDR
#   LAB_ROUTER_NS LAB_ROUTER_CLIENT_IF LAB_ROUTER_CLIENT_ADDR LAB_ROUTER_LAN_IF LAB_ROUTER_LAN_ADDR
#   LAB_SWITCH_NS LAB_BRIDGE
#   LAB_BALANCER_NS LAB_BALANCER_IF LAB_BALANCER_ADDR
#   LAB_SERVER_NS LAB_SERVER_IFS LAB_SERVER_ADDRS LAB_SERVER_NAMES
#   LAB_BIG_FILE (10 MB file served as /big) LAB_BIG_SHA256 (its hex sha256, also in $LAB_DIR/big.sha256)
# NAT lab only (unset in a DR lab):
#   LAB_ROUTER_FRONT_IF LAB_ROUTER_FRONT_ADDR (= <P>r1, 10.99.1.1: the LAN names above, too)
#   LAB_BALANCER_BACK_IF LAB_BALANCER_BACK_ADDR (<P>b1, 10.99.4.1) LAB_BALANCER_BACK_ADDR6 (2001:db8:4::1)
#   LAB_ROUTER_FRONT_ADDR6 (2001:db8:1::1) LAB_BACK_MTU (the back segment's MTU: LAB_NAT_BACK_MTU at build, default 1500)
#   LAB_UDP_PORT (5353, UDP echo on every server; on every node in a CLUSTERIP lab too)
#   LAB_HTTP_ALT_PORT (8081, nginx on rs2 only)
#   In a NAT lab LAB_SERVER_ADDRS are 10.99.4.11 ...; LAB_BALANCER_IF is the front <P>b0.
# CLUSTERIP lab only (unset in the others):
#   LAB_NODE_NS LAB_NODE_IFS LAB_NODE_ADDRS LAB_NODE_NAMES (<P>-n1 ..., <P>n1 ..., 10.99.1.11 ..., node1 ...)
#   LAB_CLUSTER_MAC (01:00:5e:7f:00:64)
#   In a CLUSTERIP lab there is no balancer: LAB_BALANCER_NS/IF/ADDR are unset, and LAB_SERVER_NS/IFS/
#   ADDRS/NAMES hold the same lists as LAB_NODE_* (the nodes are the real servers).
# lab_up / lab_up_nat / lab_up_cluster also write them as KEY="VALUE" lines to $LAB_DIR/lab.env.
#
# Real-server VIP setup (DR servers and CLUSTERIP nodes) runs `dotnet $LB_DLL realserver setup --vip
# 10.99.0.100` in each server/node namespace; with LB_REALSERVER_FALLBACK=1 the same is done here with
# sysctl + ip. lab_down runs `realserver teardown` there when LB_DLL exists.
# The NAT lab needs neither LB_DLL nor LB_REALSERVER_FALLBACK.

# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=labs/shared.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/shared.sh"
# shellcheck source=labs/dr.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/dr.sh"
# shellcheck source=labs/nat.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/nat.sh"
# shellcheck source=labs/clusterip.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/clusterip.sh"
# shellcheck source=labs/ha.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/ha.sh"
# shellcheck source=labs/ecmp.sh
source "$(dirname "${BASH_SOURCE[0]}")/labs/ecmp.sh"

# A builder runs in a fresh bash that sources this file again (see _lab_build).
_LAB_TOPOLOGY_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
