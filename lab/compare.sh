#!/usr/bin/env bash
# Our DR, NAT and CLUSTERIP side by side with their in-kernel peers, in the same run on the same labs:
# loss-free pps (RFC 2544 style, min/median/max over trials) for 64- and 1500-byte frames, delivery under
# 1.5x and 2x overload, wrk through the VIP, and the flows a CLUSTERIP membership change breaks.
# Prints a table and writes results.json, results.csv, results.svg and results.md under lab/results/.
# Run it as root (it builds network namespaces); it installs what it needs and leaves nothing behind.
#
#   ./lab/compare.sh [--quick] [--trials N] [--sizes 64,1500] [--loss 0.5] [--duration S]
#                    [--only dr,dr6,nat,nat6,clusterip] [--ipv6] [--out DIR] [--publish]
#   ./lab/compare.sh --profile lb-dr|nft-netdev-dr|lb-dr6|nft-netdev-dr6 [--sizes 1500] [--rate 250000] [--seconds 4]
#
# --quick: one trial, 64-byte frames, short steps (under 3 minutes). --publish: copy the results to
# benchmarks/results/ (what benchmarks/RESULTS.md shows). --ipv6: the DR lab also measures kernel IPv6
# forwarding, nftables netdev DR on ip6 and our DR6 in the same alternation, the NAT lab nftables DNAT on ip6
# and our NAT66 (--only dr6, --only nat6: those alone; an IPv6 frame is at least 66 bytes). --profile: perf on the device under test's CPU while that DR candidate
# forwards a steady load (needs perf). See lab/compare.py for what is measured how.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/common.sh
source "$ROOT/lab/lib/common.sh"

lab_require_root
lab_require_dotnet
lab_install_packages
[[ "${LAB_SKIP_BUILD:-}" == 1 ]] || lab_build
exec "$LAB_PYTHON" "$ROOT/lab/compare.py" "$@"
