#!/usr/bin/env bash
# Builds the Debian package of lb:
#
#   packaging/build-deb.sh [OUTDIR]          (as root when packages are missing; default OUTDIR packaging/out)
#
# and prints the path of lb_<version>_amd64.deb as its last line. The package holds:
#   /usr/bin/lb                      a self-contained single-file publish of src/LoadBalancer.Cli: the target
#                                    needs no .NET (InvariantGlobalization is set, so no ICU either)
#   /lib/systemd/system/lb.service   packaging/lb.service
#   /etc/lb/lb.yaml                  packaging/lb.yaml, a conffile (dpkg keeps the operator's edits)
#   /usr/share/man/man8/lb.8.gz      generated from the binary's own help (packaging/make-man.sh)
# and the maintainer scripts of packaging/debian/. The version is what the built `lb version` prints, so the
# package and the command never disagree.
#
# The sources are copied (without bin/ and obj/) into a scratch directory and published there, so the
# build neither touches nor depends on the working tree's build output (tests running from it included).
# Installs what it needs with apt-get when missing; running it again builds the same package anew.
# Environment: TMPDIR (where the scratch directory goes, default /tmp); LB_DEB_KEEP=1 keeps it (path printed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/../lab/lib/common.sh"
ROOT="$LAB_ROOT"
OUT="${1:-$HERE/out}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDTERMINALLOGGER=off

lab_require_dotnet
# dpkg-deb, gzip for the man page, objdump (binutils) for the glibc version the binary needs.
# shellcheck disable=SC2034  # read by lab_install_packages
LAB_PACKAGES=(dpkg gzip binutils)
lab_install_packages

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lb-deb.XXXXXX")"
cleanup() {
    if [[ "${LB_DEB_KEEP:-0}" == 1 ]]; then lab_log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The commit's time stamps the man page and the archive members, so rebuilding one commit gives the same dates.
if SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null)"; then
    export SOURCE_DATE_EPOCH
else
    unset SOURCE_DATE_EPOCH
fi

lab_log "publishing src/LoadBalancer.Cli (linux-x64, self-contained, single file)"
mkdir -p "$WORK/src"
tar -C "$ROOT" --exclude=bin --exclude=obj -cf - src | tar -C "$WORK/src" --strip-components=1 -xf -
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props global.json NuGet.config nuget.config; do
    [[ -e "$ROOT/$f" ]] && cp "$ROOT/$f" "$WORK/"
done
# The runtime pack is the SDK's choice (the one matching its runtime); no RuntimeFrameworkVersion pin.
dotnet publish "$WORK/src/LoadBalancer.Cli/LoadBalancer.Cli.csproj" -c Release -r linux-x64 --self-contained \
    -p:PublishSingleFile=true -o "$WORK/publish" -nologo -v q >&2

LB="$WORK/publish/lb"
VERSION="$("$LB" version)"
VERSION="${VERSION#lb }"
# A native package: the upstream version alone, which must then hold no hyphen.
if [[ ! "$VERSION" =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
    lab_die "'lb version' printed '$VERSION', which is no Debian version"
fi

STAGE="$WORK/stage"
install -d -m 755 "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/lib/systemd/system" "$STAGE/etc/lb" "$STAGE/usr/share/man/man8"
# Not stripped: the single-file bundle is appended to the host executable, and strip would cut it off.
install -m 755 "$LB" "$STAGE/usr/bin/lb"
install -m 644 "$HERE/lb.service" "$STAGE/lib/systemd/system/lb.service"
install -m 644 "$HERE/lb.yaml" "$STAGE/etc/lb/lb.yaml"
man_date="$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)"
"$HERE/make-man.sh" "$LB" "$man_date" | gzip -9n > "$STAGE/usr/share/man/man8/lb.8.gz"
chmod 644 "$STAGE/usr/share/man/man8/lb.8.gz"
install -m 755 "$HERE/debian/postinst" "$HERE/debian/prerm" "$HERE/debian/postrm" "$STAGE/DEBIAN/"
echo /etc/lb/lb.yaml > "$STAGE/DEBIAN/conffiles"

# Depends, for the binary: glibc at the newest symbol version it links against; libgcc_s and libstdc++ (the
# .NET runtime's native code); OpenSSL 3, which .NET loads at run time for the https health check (libssl3t64
# is its name from Debian 13 on). zlib is not needed: .NET 9 and later carry their own (zlib-ng). For what it
# runs: nft (ingress drops) and ip (TAP set-up, announced routes).
glibc="$(objdump -T "$LB" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
installed_kib="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat > "$STAGE/DEBIAN/control" <<EOF
Package: lb
Version: $VERSION
Architecture: amd64
Maintainer: LoadBalancer developers <root@localhost>
Installed-Size: $installed_kib
Depends: libc6 (>= $glibc), libgcc-s1, libstdc++6, libssl3 | libssl3t64, nftables, iproute2
Suggests: keepalived
Section: net
Priority: optional
Description: packet-level Layer-4 load balancer for Linux (DR, NAT, CLUSTERIP)
 LoadBalancer reads Ethernet frames from AF_PACKET rings, hashes each flow into
 a Maglev table and forwards it: direct routing (DSR), NAT, or a CLUSTERIP
 cluster without a dedicated balancer. Health checks, drain, live reload and
 active/standby pairs with keepalived and state sync.
 .
 The lb service runs as user lb with only CAP_NET_RAW and CAP_NET_ADMIN; edit
 /etc/lb/lb.yaml, then 'systemctl enable --now lb'.
EOF

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
DEB="$OUT/lb_${VERSION}_amd64.deb"
dpkg-deb --build --root-owner-group "$STAGE" "$DEB" >&2
echo "$DEB"
