#!/usr/bin/env bash
# image.sh - builds the tspool container image without Docker: Debian's buildah builds the
# Dockerfile (chroot isolation) on a debootstrap'd bookworm base imported into podman's storage.
# SPDX-License-Identifier: MIT
#
# Usage: scripts/image.sh deps     install buildah, podman, runc and debootstrap if missing
#        scripts/image.sh base     make docker.io/library/debian:bookworm-slim (once; cached)
#        scripts/image.sh build    base, then the image (TSPOOL_IMAGE, default tspool:<version>)
#        scripts/image.sh works    exit 0 when containers can be built and run on this machine
#
# No registry is needed: the base image is `debootstrap --variant=minbase bookworm` from the
# Debian mirror apt already uses (TSPOOL_DEBIAN_MIRROR overrides it), imported with
# `podman import` under the name the Dockerfile's FROM lines use, and the build runs with
# --pull=never. --format docker keeps the Dockerfile's HEALTHCHECK in the image.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
base_image=docker.io/library/debian:bookworm-slim
# bump when base() changes what it makes: an older base is made again
base_mark=tspool-slim-2
version=$(sed -n 's/^project(tspool VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
image=${TSPOOL_IMAGE:-localhost/tspool:$version}

die() {
    echo "image: $*" >&2
    exit 1
}

deps() {
    local missing=() p
    for p in buildah podman runc debootstrap uidmap; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "needs root to install: ${missing[*]} (apt-get install -y ${missing[*]})"
    echo "image: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# the mirror apt on this machine uses (deb822 or one-line format), unless overridden
mirror() {
    local m=${TSPOOL_DEBIAN_MIRROR:-}
    if [ -z "$m" ]; then
        m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk '/^URIs:/ {print $2}' | grep -v security | head -n1 || true)
    fi
    if [ -z "$m" ]; then
        m=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{print $2}' | head -n1 || true)
    fi
    [ -n "$m" ] || die "no Debian mirror found in the apt sources; set TSPOOL_DEBIAN_MIRROR"
    echo "$m"
}

base() {
    if podman image exists "$base_image" &&
        [ "$(podman image inspect --format '{{index .Config.Labels "org.tspool.base"}}' "$base_image" 2>/dev/null)" = "$base_mark" ]; then
        echo "image: base $base_image present"
        return 0
    fi
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tspool-rootfs.XXXXXX")
    echo "image: debootstrap --variant=minbase bookworm (a few minutes)"
    if ! debootstrap --variant=minbase bookworm "$dir" "$(mirror)" >"$dir.log" 2>&1; then
        tail -n 20 "$dir.log" >&2
        rm -rf "$dir" "$dir.log"
        die "debootstrap failed"
    fi
    # what the official slim image does: packages installed later leave out docs, man pages
    # and translations, and apt keeps no downloaded packages
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
        "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log
    tar -C "$dir" -c . | podman import --change 'CMD ["bash"]' \
        --change "LABEL org.tspool.base=$base_mark" - "$base_image" >/dev/null
    rm -rf "$dir" "$dir.log"
    echo "image: base $base_image imported"
}

build() {
    base
    echo "image: building $image"
    buildah bud --isolation chroot --format docker --pull=never --layers \
        --build-arg "VERSION=$version" -t "$image" -f "$here/Dockerfile" "$here"
    podman image inspect --format '{{.Size}}' "$image" |
        awk -v img="$image" '{printf "image: %s built, %.1f MB\n", img, $1 / 1000000}'
}

# can this machine build and run containers? (root, user namespaces and cgroups permitting)
works() {
    command -v buildah >/dev/null 2>&1 || return 1
    command -v podman >/dev/null 2>&1 || return 1
    command -v runc >/dev/null 2>&1 || return 1
    buildah info >/dev/null 2>&1 || return 1
    podman info >/dev/null 2>&1 || return 1
}

case "${1:-build}" in
deps) deps ;;
base) deps && base ;;
build) deps && build ;;
works) works ;;
*) die "unknown command '$1' (deps, base, build, works)" ;;
esac
