#!/bin/sh
# build-renderer.sh - builds the test-only chart renderer from Debian's Go packages (GOPATH mode,
# offline): golang-go, golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev,
# golang-github-xeipuuv-gojsonschema-dev.
# SPDX-License-Identifier: MIT
# Usage: build-renderer.sh OUTPUT
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${GOCACHE:-$(dirname "$out")/go-cache}
mkdir -p "$(dirname "$out")" "$cache"
cd "$here/render"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$cache GOENV=off GOFLAGS= CGO_ENABLED=0 \
    go build -o "$out" .
