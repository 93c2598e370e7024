#!/usr/bin/env bash
# Builds kustomize VERSION from its Go module into BIN_DIR, where deploy-check finds it (make tools,
# make deploy-check). Does nothing when BIN_DIR/kustomize is that version already.
set -euo pipefail
usage="usage: deploy/build-kustomize.sh VERSION BIN_DIR"
version=${1:?$usage}
bin_dir=${2:?$usage}
module=sigs.k8s.io/kustomize/kustomize/v5
# kustomize v5.8.2's go.mod asks for Go 1.26; an older go command builds with this release instead, taken
# from the Go module proxy as the module golang.org/toolchain (as GOTOOLCHAIN does).
minimum=1.26
toolchain=go1.26.8

if [ -x "$bin_dir/kustomize" ] && [ "$("$bin_dir/kustomize" version 2>/dev/null)" = "$version" ]; then
  exit 0
fi
mkdir -p "$bin_dir"
bin_dir=$(cd "$bin_dir" && pwd)
cache=$(dirname "$bin_dir")
# Go's module and build caches beside the binary (the repository writes only to its ignored folders);
# -modcacherw keeps them removable by `make clean`.
export GOPATH=${GOPATH:-$cache/go} GOCACHE=${GOCACHE:-$cache/go/build} GOFLAGS="-modcacherw -buildvcs=false"

go=${GO:-$(command -v go || true)}  # GO: a go command to use instead of the one on PATH
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
if [ -z "$go" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "go is missing: sudo apt-get install golang (or install Go), then make tools" >&2
    exit 1
  fi
  echo "go is missing: installing Debian's golang"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang >/dev/null
  go=$(command -v go)
fi

# "go1.19.8" -> 1 19
have=$("$go" env GOVERSION)
read -r major minor _ <<<"$(echo "${have#go}" | tr '.' ' ')"
read -r want_major want_minor <<<"$(echo "$minimum" | tr '.' ' ')"
if ((major > want_major || (major == want_major && minor >= want_minor))); then
  export GOTOOLCHAIN=local
elif ((major == 1 && minor >= 21)); then
  export GOTOOLCHAIN=$toolchain
else
  # Too old to switch toolchains itself (Debian bookworm's golang is 1.19): fetch the release as a module
  # (quick once it is in the module cache) and run it from there.
  echo "$have is older than Go $minimum: using $toolchain from the Go module proxy"
  goroot=$("$go" mod download -json \
    "golang.org/toolchain@v0.0.1-$toolchain.$("$go" env GOOS)-$("$go" env GOARCH)" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  chmod +x "$goroot"/bin/* "$goroot"/pkg/tool/*/*  # module zips keep no execute bits
  go=$goroot/bin/go
  export GOTOOLCHAIN=local GOROOT=$goroot
fi

echo "building kustomize $version into $bin_dir (with $("$go" env GOVERSION); once)"
start=$SECONDS
GOBIN=$bin_dir "$go" install "$module@$version"
echo "built $("$bin_dir/kustomize" version) in $((SECONDS - start)) s"
