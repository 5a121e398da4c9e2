#!/usr/bin/env bash
# Runs Helm v3.22.0, the version the chart is checked with, from a binary
# built once from source through the Go module proxy (`go install`; no
# prebuilt binary is downloaded, and helm stays out of Tinman's go.mod).
# The build takes minutes; later runs start at once.
#
#   deploy/helm/helm.sh lint deploy/helm/tinman
#   deploy/helm/helm.sh template tinman deploy/helm/tinman -f deploy/helm/tinman/ci/ha-values.yaml
#
# TINMAN_HELM_DIR  where the binary is kept (default ~/.cache/tinman/helm-v3.22.0)
# HELM_BUILD=never do not build: exit 3 when it is not there yet (the chart
#                  test's way of asking, outside CI)
set -euo pipefail

version=v3.22.0
dir=${TINMAN_HELM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tinman/helm-$version}
bin=$dir/helm

if [ ! -x "$bin" ]; then
  if [ "${HELM_BUILD:-}" = never ]; then
    echo "helm $version is not built in $dir: deploy/helm/helm.sh version builds it (a few minutes, once)" >&2
    exit 3
  fi
  echo "building helm $version into $dir (once; a few minutes)" >&2
  mkdir -p "$dir"
  # Outside any module: the version comes from the proxy, not from go.mod.
  (cd "$dir" && GOBIN="$dir" GOFLAGS= go install "helm.sh/helm/v3/cmd/helm@$version")
fi
exec "$bin" "$@"
