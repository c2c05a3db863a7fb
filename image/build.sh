#!/bin/sh
# Build Parley's bootable disk image: Debian bookworm, the appliance in a venv from a locked
# wheelhouse, the speech model built in, nginx terminating TLS in front of web and SFU, and the
# systemd units enabled. Nothing is mounted: the root file system is made from a directory
# (mke2fs -d) and the EFI partition with mtools.
#
# Usage (as root): image/build.sh OUTDIR
#   ->  OUTDIR/parley-VERSION.raw, .qcow2, .SHA256SUMS, vmlinuz, initrd
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
OUT=$(realpath -m "${1:-$REPO/build/image}")
PY="$REPO/.venv/bin/python"
VERSION=$("$PY" -c 'import appliance; print(appliance.__version__)')
# Every time stamp in the image is this one (the last commit's unless set; outside a git
# checkout, now): two builds of one commit from the same Debian mirror state give the same bytes.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
# The work tree (a whole root file system) lives outside the checkout: a build may run beside the
# tests, and pip walks the checkout when a test installs the package from it.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/parley-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
mkdir -p "$OUT"

echo "== wheelhouse (locked to the versions the tests ran with)"
"$PY" -m pip freeze --exclude-editable | grep -v '^-e ' > "$WORK/constraints.txt"
# Built from a copy of the package, so setuptools writes its in-tree build files there, not in
# the checkout a test may be installing from at the same time.
mkdir "$WORK/src"
cp -r "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/appliance" "$WORK/src/"
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel --quiet -c "$WORK/constraints.txt" -w "$WORK/wheelhouse" "$WORK/src"

echo "== speech model"
MODELS="$WORK/modeldata"
# Its own wheel cache: a build may run beside the tests, which fill the user's cache.
"$PY" -m appliance models install --data-dir "$MODELS" --wheel-cache "$OUT/wheels" \
  > "$WORK/models.log"

echo "== root file system"
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include=systemd,systemd-sysv,udev,dbus,linux-image-amd64,initramfs-tools,kmod,e2fsprogs,python3,python3-venv,nginx-light,openssl,ca-certificates,iproute2 \
  --customize-hook="cp -r '$WORK/wheelhouse' \"\$1/tmp/wheelhouse\"" \
  --customize-hook='chroot "$1" python3 -m venv /opt/parley/venv' \
  --customize-hook='chroot "$1" /opt/parley/venv/bin/pip install --quiet --no-index --find-links /tmp/wheelhouse parley-appliance' \
  --customize-hook='rm -rf "$1/tmp/wheelhouse"' \
  --customize-hook="'$HERE/customize.sh' \"\$1\" '$REPO' '$MODELS'" \
  bookworm "$ROOT" /etc/apt/sources.list.d/debian.sources

echo "== time stamps"
find "$ROOT" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

echo "== disk"
"$HERE/assemble.sh" "$ROOT" "$OUT/parley-$VERSION.raw"
cp "$ROOT"/boot/vmlinuz-* "$OUT/vmlinuz"
cp "$ROOT"/boot/initrd.img-* "$OUT/initrd"
qemu-img convert -O qcow2 "$OUT/parley-$VERSION.raw" "$OUT/parley-$VERSION.qcow2"
(cd "$OUT" && sha256sum "parley-$VERSION.raw" "parley-$VERSION.qcow2" > "parley-$VERSION.SHA256SUMS")
echo "$OUT/parley-$VERSION.raw"
