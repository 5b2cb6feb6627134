#!/usr/bin/env bash
# check-dockerfile.sh - keeps the Dockerfile honest without a Docker engine: packages exist and
# resolve in Debian, the build stage has what CMake looks for, the runtime stage installs exactly
# the packages owning the libraries the built binary links, and the image metadata is as required.
# SPDX-License-Identifier: MIT
#
# Usage: check-dockerfile.sh [path/to/tspool]   (default: $TSPOOL_BINARY)
# Source tree: $TSPOOL_SOURCE_DIR, else two levels above this script.
# Prints one line per check and "N passed, N failed, N skipped"; exits 1 on any failure.
set -uo pipefail

src=${TSPOOL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
dockerfile=${TSPOOL_DOCKERFILE:-$src/Dockerfile}
binary=${1:-${TSPOOL_BINARY:-}}
passed=0 failed=0 skipped=0

pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }
skip() { skipped=$((skipped + 1)); echo "skip - $1"; }
check() { # check "name" command...
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi
}

if [ ! -r "$dockerfile" ]; then
    fail "Dockerfile readable at $dockerfile"
    echo "$passed passed, $failed failed, $skipped skipped"
    exit 1
fi

# --- parse: join continuation lines, drop comments, split into stages --------------------------
# One instruction per line in $tmp/all; stage N's instructions in $tmp/stage.N.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '
    /^[[:space:]]*#/ { next }
    { line = $0; sub(/[[:space:]]+$/, "", line) }
    cont { buf = buf " " line } !cont { buf = line }
    { if (line ~ /\\$/) { sub(/\\$/, "", buf); cont = 1; next } cont = 0 }
    buf ~ /[^[:space:]]/ { gsub(/[[:space:]]+/, " ", buf); sub(/^ /, "", buf); print buf }
' "$dockerfile" >"$tmp/all"
awk -v dir="$tmp" '
    toupper($1) == "FROM" { n++ } n > 0 { print > (dir "/stage." n) }
' "$tmp/all"
nstages=$(grep -ci '^FROM ' "$tmp/all")

# Packages named by "apt-get install" in a stage, one per line.
stage_packages() {
    grep -i '^RUN ' "$tmp/stage.$1" | tr '&;|' '\n\n\n' | awk '
        { for (i = 1; i <= NF; i++) { if ($i == "install" && $(i - 1) == "apt-get") { on = 1; continue }
              if (on && $i !~ /^-/) print $i } on = 0 }' | sort -u
}

# --- structure --------------------------------------------------------------------------------
check "two stages (build, runtime)" test "$nstages" -eq 2
check "build stage is debian:bookworm-slim AS build" grep -qx 'FROM debian:bookworm-slim AS build' "$tmp/stage.1"
check "runtime stage is debian:bookworm-slim" grep -qx 'FROM debian:bookworm-slim' "$tmp/stage.2"
stage_packages 1 >"$tmp/build.pkgs"
stage_packages 2 >"$tmp/runtime.pkgs"
check "build stage installs packages" test -s "$tmp/build.pkgs"
check "runtime stage installs packages" test -s "$tmp/runtime.pkgs"

for s in 1 2; do
    while read -r run; do
        case $run in
        *apt-get\ install*)
            echo "$run" | grep -q 'apt-get update' && echo "$run" | grep -q -- '--no-install-recommends' &&
                echo "$run" | grep -q 'rm -rf /var/lib/apt/lists/\*'
            check "stage $s: apt-get update, install --no-install-recommends and list cleanup in one RUN" test $? -eq 0
            ;;
        esac
    done < <(grep -i '^RUN ' "$tmp/stage.$s")
done

# --- every package exists in Debian and the set resolves -------------------------------------
if apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then
    # one apt-cache call for all packages: "name candidate from-bookworm(0|1)" per package
    # shellcheck disable=SC2046
    apt-cache policy $(cat "$tmp/build.pkgs" "$tmp/runtime.pkgs") 2>/dev/null | awk '
        /^[^ ].*:$/ { if (name != "") print name, cand, deb; name = substr($0, 1, length($0) - 1); cand = ""; deb = 0 }
        $1 == "Candidate:" { cand = $2 }
        / bookworm[-a-z]*\/[a-z]+ / { deb = 1 }
        END { if (name != "") print name, cand, deb }' >"$tmp/policy"
    for s in build runtime; do
        while read -r p; do
            row=$(awk -v p="$p" '$1 == p' "$tmp/policy")
            # shellcheck disable=SC2086
            set -- $row
            if [ -z "$row" ] || [ "${2:-}" = "(none)" ]; then
                fail "$s package '$p' exists in the apt cache (no installable version)"
            elif [ "${3:-0}" != 1 ]; then
                fail "$s package '$p' comes from a Debian bookworm archive (only installed locally)"
            else
                pass "$s package '$p' exists in Debian bookworm ($2)"
            fi
        done <"$tmp/$s.pkgs"
        # shellcheck disable=SC2046
        check "$s packages resolve together (apt-get install --simulate)" \
            apt-get install --simulate --no-install-recommends $(cat "$tmp/$s.pkgs")
    done
else
    fail "apt cache is empty: run apt-get update (scripts/install-deps.sh does)"
fi

# --- the build stage has what CMake needs ------------------------------------------------------
owner() { # owner PATH -> Debian package owning the file (usrmerge aware)
    local f=$1 alt out
    out=$(dpkg -S "$f" 2>/dev/null | head -n1) || true
    if [ -z "$out" ]; then
        case $f in /usr/*) alt=${f#/usr} ;; *) alt=/usr$f ;; esac
        out=$(dpkg -S "$alt" 2>/dev/null | head -n1) || true
    fi
    if [ -z "$out" ]; then
        out=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null | head -n1) || true
    fi
    [ -n "$out" ] && echo "${out%%:*}"
}

in_list() { grep -qx "$1" "$2"; }

modules=$(cat "$src/CMakeLists.txt" "$src"/*/CMakeLists.txt 2>/dev/null |
    sed -n 's/.*pkg_check_modules([A-Za-z_]* REQUIRED IMPORTED_TARGET \([a-z0-9_.-]*\)).*/\1/p' | sort -u)
check "CMakeLists.txt names pkg-config modules" test -n "$modules"
for m in $modules; do
    pc=$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)/$m.pc
    pkg=$(owner "$pc")
    if [ -z "$pkg" ]; then
        fail "pkg-config module $m: no installed package owns $pc (install the -dev packages first)"
    elif in_list "$pkg" "$tmp/build.pkgs"; then
        pass "pkg-config module $m ($pkg) is installed in the build stage"
    else
        fail "pkg-config module $m needs $pkg in the build stage"
    fi
done
if grep -q 'find_package(civetweb CONFIG' "$src"/api/CMakeLists.txt 2>/dev/null; then
    cfg=$(dpkg -L libcivetweb-dev 2>/dev/null | grep -i 'civetweb-config.cmake$' | head -n1)
    for f in "$cfg" /usr/bin/civetweb; do
        pkg=$(owner "$f")
        if [ -n "$pkg" ] && in_list "$pkg" "$tmp/build.pkgs"; then
            pass "civetweb CMake package needs $f ($pkg): in the build stage"
        else
            fail "civetweb CMake package needs $f (${pkg:-not installed here}) in the build stage"
        fi
    done
fi
for tool in gcc cmake make pkg-config; do
    check "build stage installs $tool" in_list "$tool" "$tmp/build.pkgs"
done
check "build stage runs the unit tests" grep -q 'ctest -L unit' "$tmp/stage.1"
check "build stage builds without sanitizers (Release)" grep -q 'CMAKE_BUILD_TYPE=Release' "$tmp/stage.1"

# --- the runtime stage installs exactly what the binary links ----------------------------------
# Packages every Debian image has (Essential packages depend on them).
base_packages="libc6"
# Test builds link sanitizer runtimes; the image's build stage builds without them.
sanitizer_re='^lib(a|ub|t|l)san\.so'
if [ -z "$binary" ]; then
    skip "runtime libraries match the binary (no binary: pass one or set TSPOOL_BINARY)"
elif [ ! -x "$binary" ]; then
    fail "binary $binary exists and is executable"
else
    pass "binary $binary exists and is executable"
    objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }' | sort -u >"$tmp/needed"
    check "binary has NEEDED entries (objdump -p)" test -s "$tmp/needed"
    ldd "$binary" >"$tmp/ldd" 2>&1
    : >"$tmp/need.pkgs"
    while read -r so; do
        if echo "$so" | grep -Eq "$sanitizer_re"; then
            echo "note - $so is a sanitizer runtime of this test build, not an image dependency"
            continue
        fi
        path=$(awk -v so="$so" '$1 == so && $2 == "=>" { print $3 }' "$tmp/ldd")
        pkg=""
        [ -n "$path" ] && pkg=$(owner "$path")
        if [ -z "$pkg" ]; then
            fail "NEEDED $so: no package owns it (${path:-not found by ldd})"
            continue
        fi
        echo "$pkg" >>"$tmp/need.pkgs"
        if echo " $base_packages " | grep -q " $pkg "; then
            pass "NEEDED $so -> $pkg (in the base image)"
        elif in_list "$pkg" "$tmp/runtime.pkgs"; then
            pass "NEEDED $so -> $pkg is installed in the runtime stage"
        else
            fail "NEEDED $so -> $pkg is missing from the runtime stage"
        fi
    done <"$tmp/needed"
    while read -r p; do
        case $p in
        ca-certificates) pass "runtime package ca-certificates: trust store for libpq/libcurl TLS" ;;
        *)
            if in_list "$p" "$tmp/need.pkgs"; then
                pass "runtime package $p owns a library the binary links"
            else
                fail "runtime package $p owns no library the binary links (remove it or justify it)"
            fi
            ;;
        esac
    done <"$tmp/runtime.pkgs"
fi
check "runtime stage installs no -dev package or compiler" \
    sh -c "! grep -Eq -- '-dev\$|^(gcc|cmake|make|pkg-config)\$' '$tmp/runtime.pkgs'"

# --- image metadata -----------------------------------------------------------------------------
check "runtime stage copies the binary from the build stage" \
    grep -Eq '^COPY --from=build /out/tspool /usr/local/bin/tspool$' "$tmp/stage.2"
user=$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' "$tmp/stage.2")
check "USER is numeric and non-root ($user)" sh -c "echo '$user' | grep -Eq '^[1-9][0-9]*(:[0-9]+)?\$'"
check "EXPOSE 8080" grep -qx 'EXPOSE 8080' "$tmp/stage.2"
check "ENTRYPOINT [\"tspool\", \"serve\"] (exec form)" grep -Eqx 'ENTRYPOINT \["tspool", ?"serve"\]' "$tmp/stage.2"
check "HEALTHCHECK runs tspool probe live (exec form)" \
    grep -Eq '^HEALTHCHECK .*CMD \["tspool", ?"probe", ?"live"\]$' "$tmp/stage.2"
check "CMD and ENTRYPOINT use the exec form (no shell needed)" \
    sh -c "! grep -Eq '^(CMD|ENTRYPOINT) [^[]' '$tmp/stage.2'"
for label in title description version licenses; do
    check "OCI label org.opencontainers.image.$label" grep -q "org.opencontainers.image.$label=" "$tmp/stage.2"
done
cmake_version=$(sed -n 's/^project(tspool VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
image_version=$(sed -n 's/^ARG VERSION=\(.*\)$/\1/p' "$tmp/stage.2")
chart_version=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$src/helm/tspool/Chart.yaml" 2>/dev/null)
check "image VERSION ($image_version) = CMake project version ($cmake_version)" \
    test -n "$cmake_version" -a "$image_version" = "$cmake_version"
check "chart appVersion ($chart_version) = CMake project version ($cmake_version)" \
    test "$chart_version" = "$cmake_version"
listen=$(sed -n 's/.*TSPOOL_LISTEN=\([^ ]*\).*/\1/p' "$tmp/stage.2")
check "TSPOOL_LISTEN ($listen) listens on the exposed port" test "$listen" = "0.0.0.0:8080"
for pat in .git build build-\* .tspool node_modules; do
    check ".dockerignore excludes $pat" grep -qxF "$pat" "$src/.dockerignore"
done

for need in CMakeLists.txt cmake include service api tests README.md openapi.yaml; do
    [ -e "$src/$need" ] || continue
    check ".dockerignore keeps $need (the build stage needs it)" \
        sh -c "! grep -Eqx -- '/?$need/?(\*\*?)?' '$src/.dockerignore'"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
