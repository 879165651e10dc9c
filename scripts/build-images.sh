#!/usr/bin/env bash
# Builds the HyperSearch images on this machine without a Docker daemon, a base-image pull or
# package-index access inside the build: the repository's Dockerfiles, unchanged, built by
# Debian's buildah FROM a Debian bookworm base made by mmdebstrap (Debian's python3 is 3.11,
# as constraints.txt wants). Wheels are downloaded on the host first and the build's
# `pip install` reads them through a bind-mounted /etc/pip.conf (no-index, find-links=/wheels);
# neither ends up in the image.
#
#   scripts/build-images.sh                 # operator image (default)
#   scripts/build-images.sh operator trainer --archive
#
# Everything is cached under ~/.cache/hypersearch/images (HYPERSEARCH_CACHE overrides the
# parent) and keyed by content: the base by its recipe, each image by the base, the wheels'
# inputs (constraints.txt, pyproject.toml files), its Dockerfile, its build context and the
# script's build recipe. A second run with nothing changed builds nothing. Tags:
#   localhost/hypersearch/<name>:<key>  and  localhost/hypersearch/<name>:dev (the newest)
# in the script's own vfs storage (IMAGE_STORE below; pass the same --root/--runroot/
# --storage-driver to podman or buildah to use them). --archive also writes
# images/<name>-<key>.tar (docker-archive) for `podman load` or `ctr -n k8s.io images import`.
#
# Needs (Debian packages): buildah, runc, mmdebstrap (only when the base is not cached), podman
# (only for the smoke run). Needs the shared venv's pip (scripts/setup.sh) for the wheels.
# Run by tests/install's session fixture (so by scripts/test.sh and CI); docs/testing.md
# ("Install tests", "Images and a real node") has timings.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}/images"
VENV="${HYPERSEARCH_VENV:-${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}/venv}"
STORE=(--root "$CACHE/storage" --runroot "$CACHE/runroot" --storage-driver vfs)
# How podman runs these images here: runc (crun fails in this sandbox), cgroupfs, and explicit
# ulimits (the sandbox lacks CAP_SYS_RESOURCE, so podman's default nofile/nproc cannot be set).
PODMAN_RUN=(run --rm --runtime runc --cgroup-manager cgroupfs
  --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

names=()
archive=0
for arg in "$@"; do
  case "$arg" in
    operator | trainer) names+=("$arg") ;;
    --archive) archive=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "usage: $0 [operator] [trainer] [--archive]" >&2; exit 2 ;;
  esac
done
[ "${#names[@]}" -gt 0 ] || names=(operator)

for tool in buildah runc; do
  command -v "$tool" >/dev/null || { echo "build-images.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
done
mkdir -p "$CACHE"
# One build at a time per cache (concurrent sessions wait, then find the result cached).
exec {lock_fd}>"$CACHE/build.lock"
flock "$lock_fd"

hash() { sha256sum | cut -c1-16; }
bh() { buildah "${STORE[@]}" "$@"; }
has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }
# Content hash of files under the given repository paths (symlinks hashed by their target's
# content; Python caches and egg-info ignored).
tree_hash() {
  (cd "$ROOT" && find "$@" \( -type f -o -type l \) ! -path '*/__pycache__/*' ! -name '*.pyc' \
    ! -path '*.egg-info/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | hash
}
# Removes older keys of localhost/hypersearch/NAME so the vfs storage does not grow forever.
prune() {
  local name="$1" keep="$2" ref
  for ref in $(bh images --format '{{.Name}}:{{.Tag}}' | grep "^localhost/hypersearch/$name:" || true); do
    case "${ref##*:}" in "$keep" | dev) ;; *) bh rmi "$ref" >/dev/null 2>&1 || true ;; esac
  done
}

policy="$CACHE/policy.json"  # local images only: nothing is pulled or verified
echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$policy"
pipconf="$CACHE/pip.conf"
printf '[global]\nno-index = true\nfind-links = /wheels\n' > "$pipconf"

# --- base: Debian bookworm + python3 (3.11) + pip, `python`/`pip` on PATH like python:3.11-slim
SUITE=bookworm
# (shellcheck: the commas are mmdebstrap's list syntax; "$1" is expanded by the hook's shell.)
# shellcheck disable=SC2054,SC2016
BASE_ARGS=(--variant=minbase --include=python3,python3-pip,python-is-python3
  '--dpkgopt=path-exclude=/usr/share/doc/*' '--dpkgopt=path-exclude=/usr/share/man/*'
  '--dpkgopt=path-exclude=/usr/share/locale/*'
  # Like the official python images: pip installs into the system interpreter.
  '--customize-hook=rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED')
base_key="$(printf '%s\n' "$SUITE" "${BASE_ARGS[@]}" | hash)"
BASE="localhost/hypersearch/base:$base_key"
if ! has_image "$BASE"; then
  command -v mmdebstrap >/dev/null || { echo "build-images.sh: mmdebstrap not found" >&2; exit 1; }
  start=$SECONDS
  tar="$CACHE/base-$base_key.tar"
  # No mirror argument: mmdebstrap uses the host's apt sources/default Debian mirror.
  # (mmdebstrap picks the output format from the name: keep it ending in .tar)
  mmdebstrap "${BASE_ARGS[@]}" "$SUITE" "$tar.tmp.tar"
  mv "$tar.tmp.tar" "$tar"
  ctr="$(bh from scratch)"
  bh add "$ctr" "$tar" /
  bh config --env LANG=C.UTF-8 --cmd '["python3"]' "$ctr"
  bh commit --rm --signature-policy "$policy" "$ctr" "$BASE" >/dev/null
  rm -f "$tar"
  prune base "$base_key"
  echo "build-images.sh: base $BASE built in $((SECONDS - start))s" >&2
fi

# --- wheels, downloaded on the host (the build cannot reach the package index)
wheels() {  # NAME KEY PIP-ARGS... -> prints the wheel dir
  local dir="$CACHE/wheels-$1-$2"
  shift 2
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.tmp"
    "$VENV/bin/pip" download --disable-pip-version-check -q -d "$dir.tmp" \
      -c "$ROOT/constraints.txt" "setuptools>=68" wheel "$@" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

build() {  # NAME DOCKERFILE WHEEL-DIR CONTEXT-PATHS...
  local name="$1" dockerfile="$2" wheel_dir="$3" key ref start
  shift 3
  # The key: base, wheel inputs, Dockerfile, context and this recipe (the functions' text).
  key="$( { echo "$BASE"; basename "$wheel_dir"; sha256sum "$ROOT/$dockerfile" | cut -c1-64;
    declare -f build wheels; tree_hash "$@"; } | hash)"
  ref="localhost/hypersearch/$name:$key"
  if has_image "$ref"; then
    echo "build-images.sh: $ref is cached" >&2
  else
    start=$SECONDS
    bh bud --isolation oci --runtime runc --pull=never --signature-policy "$policy" \
      --build-arg "BASE_IMAGE=$BASE" \
      -v "$wheel_dir:/wheels:ro" -v "$pipconf:/etc/pip.conf:ro" \
      -f "$ROOT/$dockerfile" -t "$ref" "$ROOT" >&2
    echo "build-images.sh: $ref built in $((SECONDS - start))s" >&2
    built="$built $name"
  fi
  bh tag "$ref" "localhost/hypersearch/$name:dev"
  prune "$name" "$key"
  if [ "$archive" = 1 ] && [ ! -s "$CACHE/$name-$key.tar" ]; then
    rm -f "$CACHE/$name"-*.tar
    bh push --signature-policy "$policy" "$ref" \
      "docker-archive:$CACHE/$name-$key.tar.tmp:localhost/hypersearch/$name:dev" >&2
    mv "$CACHE/$name-$key.tar.tmp" "$CACHE/$name-$key.tar"
  fi
  echo "$ref"
}

built=""
for name in "${names[@]}"; do
  case "$name" in
    operator)
      w="$(wheels operator "$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" | hash)" "$ROOT")"
      build operator Dockerfile "$w" constraints.txt pyproject.toml README.md operator \
        manifests/crds trainer_image
      ;;
    trainer)
      # The CUDA build of torch by default (several GB of wheels); see trainer_image/Dockerfile.
      w="$(wheels trainer "$(cat "$ROOT/constraints.txt" "$ROOT/trainer_image/pyproject.toml" | hash)" \
        "$ROOT/trainer_image")"
      build trainer trainer_image/Dockerfile "$w" constraints.txt trainer_image
      ;;
  esac
done
bh images --filter reference='localhost/hypersearch/*' >&2
if command -v podman >/dev/null && [[ "$built " == *" operator "* ]]; then
  # Smoke run of a new build: the operator's entrypoint must import and parse its arguments.
  podman "${STORE[@]}" "${PODMAN_RUN[@]}" localhost/hypersearch/operator:dev --help >/dev/null
  echo "build-images.sh: podman run localhost/hypersearch/operator:dev --help: ok" >&2
fi
