#!/usr/bin/env bash
# Builds the Debian package of Postern from a built binary, offline, with dpkg-deb (no fakeroot: every file is
# root:root through --root-owner-group).
#
#   packaging/build-deb.sh [BINARY [OUTDIR]]     # defaults: build/postern, build/deb
#
# Writes OUTDIR/postern_<version>_<arch>.deb and prints its path as the last line. The version is what
# `BINARY --version` prints ("postern 0.1.0"), else the project version in CMakeLists.txt; the architecture is
# dpkg's. Depends comes from dpkg-shlibdeps on the stripped binary (the libraries it really links), plus passwd
# (useradd in postinst) and procps (/bin/kill, the unit's ExecReload). Environment: DEB_MAINTAINER overrides the
# Maintainer field, SOURCE_DATE_EPOCH the file times (default: the last commit's time, so two builds of one commit
# give the same package), DEB_COMPRESS_LEVEL the xz level (dpkg-deb's default 6; the test uses 1 for speed).
# Needs dpkg-dev (dpkg-shlibdeps) and binutils (strip): scripts/install-deps.sh installs both.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${1:-$repo/build/postern}
outdir=${2:-$repo/build/deb}
maintainer=${DEB_MAINTAINER:-Postern maintainers <maintainers@postern.invalid>}

die() { echo "build-deb: $*" >&2; exit 1; }

for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (install dpkg-dev and binutils: scripts/install-deps.sh)"
done
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then die "no executable at $bin (build it first: make build)"; fi

# Version: "postern X" from the binary, else project(postern VERSION X) from CMakeLists.txt.
version=$("$bin" --version 2>/dev/null | sed -n '1s/^postern \([^[:space:]]*\).*$/\1/p' || true)
if [ -z "$version" ]; then
  version=$(sed -n 's/^project(postern VERSION \([^[:space:])]*\).*/\1/p' "$repo/CMakeLists.txt" | head -n1)
  echo "build-deb: $bin --version printed no version; using $version from CMakeLists.txt" >&2
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "\"$version\" is not a Debian version"
arch=$(dpkg --print-architecture)

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d "${TMPDIR:-/tmp}/postern-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The package tree sits where dpkg-shlibdeps expects a package's files: debian/postern in a (throwaway) source tree.
src=$work/src
pkg=$src/debian/postern
umask 022

# The files. /lib/systemd/system is where Debian 12's systemd looks for units that packages ship.
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/postern" "$pkg/usr/share/doc/postern"
# Stripped as dh_strip strips an executable (symbols and .comment gone; the build id stays).
strip --remove-section=.comment --remove-section=.note -o "$pkg/usr/bin/postern" "$bin"
chmod 0755 "$pkg/usr/bin/postern"
install -m 0644 "$here/postern.service" "$pkg/lib/systemd/system/postern.service"
install -m 0644 "$here/config.yaml" "$pkg/etc/postern/config.yaml"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/postern/copyright"

# changelog: changelog.gz for a native version (no "-revision"), changelog.Debian.gz otherwise.
changelog=changelog.gz
[[ "$version" == *-* ]] && changelog=changelog.Debian.gz
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  printf 'postern (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from commit %s.\n\n' "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$pkg/usr/share/doc/postern/$changelog"
chmod 0644 "$pkg/usr/share/doc/postern/$changelog"

for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done
echo /etc/postern/config.yaml >"$pkg/DEBIAN/conffiles"

# Depends: dpkg-shlibdeps reads the binary's NEEDED libraries and the shlibs/symbols files of the packages that
# ship them. It wants debian/control in the source tree.
printf 'Source: postern\nMaintainer: %s\n\nPackage: postern\nArchitecture: any\n' "$maintainer" \
  >"$src/debian/control"
shlibs=$(cd "$src" && dpkg-shlibdeps -O -edebian/postern/usr/bin/postern | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no library dependencies for $bin"
depends="$shlibs, passwd, procps"

# md5sums of everything but the conffiles (dpkg keeps those hashes itself), as dh_md5sums does.
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
  grep -vxF -f <(sed 's:^/::' DEBIAN/conffiles) | xargs -d '\n' md5sum) >"$pkg/DEBIAN/md5sums"

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: postern
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Description: identity-aware access proxy, a drop-in replacement for Pomerium
 Postern stands in front of internal web apps and APIs, signs people in with
 the company's identity provider (Okta, or any OpenID Connect provider) and
 decides for every request whether it may pass. It reads Pomerium's
 config.yaml keys and environment variables and serves the same endpoints.
 .
 The package runs it as a systemd service (postern.service) under its own
 user, configured by /etc/postern/config.yaml.
EOF
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

find "$pkg" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$outdir"
deb=$outdir/postern_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz ${DEB_COMPRESS_LEVEL:+-z"$DEB_COMPRESS_LEVEL"} --build "$pkg" "$deb" >/dev/null
echo "build-deb: $(du -h "$deb" | cut -f1) $deb" >&2
echo "Depends: $depends" >&2
echo "$deb"
