#!/bin/sh
# mmdebstrap customize hook: make the Debian root at $1 the Parley appliance.
# Usage: customize.sh ROOT REPO MODELDATA
set -eu
ROOT=$1 REPO=$2 MODELS=$3
FILES="$REPO/image/files"

# The services and their shared sandbox, enabled; the image's own units beside them.
cp "$REPO"/systemd/appliance-*.service "$REPO"/systemd/appliance.target "$ROOT/etc/systemd/system/"
cp -r "$REPO/systemd/appliance-.service.d" "$ROOT/etc/systemd/system/"
cp "$FILES"/parley-*.service "$FILES"/parley-*.path "$ROOT/etc/systemd/system/"
mkdir -p "$ROOT/etc/systemd/system/nginx.service.d" "$ROOT/etc/systemd/network" "$ROOT/opt/parley/bin"
cp "$FILES/nginx-after-tls.conf" "$ROOT/etc/systemd/system/nginx.service.d/parley.conf"
cp "$FILES/wired.network" "$ROOT/etc/systemd/network/20-wired.network"
install -m 0755 "$FILES/console-banner" "$ROOT/opt/parley/bin/console-banner"
cp -r "$REPO/docs" "$ROOT/opt/parley/docs"
systemctl --root="$ROOT" enable appliance.target appliance-web.service appliance-sfu.service \
  appliance-worker.service parley-tls.service parley-tls-apply.path parley-restart.path \
  parley-console.service \
  systemd-networkd.service
# A first boot must not stop at systemd-firstboot's prompts.
ln -sf /dev/null "$ROOT/etc/systemd/system/systemd-firstboot.service"

# nginx terminates TLS and sends / to the web process, /sfu/ to the SFU.
rm -f "$ROOT/etc/nginx/sites-enabled/default"
cp "$FILES/nginx-parley.conf" "$ROOT/etc/nginx/sites-enabled/parley"

# The data dir: the speech model built in (no download at boot), the image's configuration.
# Keys are not here: appliance-init makes them on this machine's first boot.
STATE="$ROOT/var/lib/private/parley"
mkdir -p "$STATE"
chmod 0700 "$ROOT/var/lib/private" "$STATE"
cp -r "$MODELS/models" "$STATE/models"
cp "$FILES/appliance.toml" "$STATE/appliance.toml"

# The machine: its name, UTC, no copy of the build host's resolver or identity.
echo parley > "$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 parley\n::1 localhost\n' > "$ROOT/etc/hosts"
ln -sf /usr/share/zoneinfo/UTC "$ROOT/etc/localtime"
echo "# resolvers come from DHCP or the setup wizard" > "$ROOT/etc/resolv.conf"
# No Python on the box starts onnxruntime's telemetry, not even one run by hand.
echo ORT_DISABLE_TELEMETRY=1 >> "$ROOT/etc/environment"
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
printf 'LABEL=parley-root / ext4 defaults,noatime 0 1\n' > "$ROOT/etc/fstab"
if ! ls "$ROOT"/boot/initrd.img-* > /dev/null 2>&1; then
  chroot "$ROOT" update-initramfs -c -k all
fi
rm -rf "$ROOT/var/cache/apt/archives/"*.deb "$ROOT/var/lib/apt/lists/"*
