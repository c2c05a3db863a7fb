#!/bin/sh
# A GPT disk from a root directory, without mounting anything: an EFI partition made with
# mtools (systemd-boot, the kernel, the initrd) and an ext4 root made with mke2fs -d.
# Usage: assemble.sh ROOT DISK
set -eu
ROOT=$1 DISK=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
EFI_MIB=128
ROOT_MIB=${PARLEY_ROOT_MIB:-6144}

KERNEL=$(ls "$ROOT"/boot/vmlinuz-* | tail -1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | tail -1)
mkfs.vfat -C -n PARLEYEFI "$WORK/efi.img" $((EFI_MIB * 1024)) > /dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$WORK/efi.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -i "$WORK/efi.img" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$WORK/efi.img" "$KERNEL" ::/vmlinuz
mcopy -i "$WORK/efi.img" "$INITRD" ::/initrd
printf 'default parley.conf\ntimeout 0\n' > "$WORK/loader.conf"
printf 'title Parley\nlinux /vmlinuz\ninitrd /initrd\noptions root=LABEL=parley-root rw console=tty0 console=ttyS0,115200\n' > "$WORK/parley.conf"
mcopy -i "$WORK/efi.img" "$WORK/loader.conf" ::/loader/loader.conf
mcopy -i "$WORK/efi.img" "$WORK/parley.conf" ::/loader/entries/parley.conf

mke2fs -q -t ext4 -L parley-root -d "$ROOT" "$WORK/root.img" "${ROOT_MIB}M"

rm -f "$DISK"
truncate -s $((1 + EFI_MIB + ROOT_MIB + 1))M "$DISK"
sfdisk --quiet "$DISK" <<PARTS
label: gpt
start=1MiB, size=${EFI_MIB}MiB, type=U, name=efi
size=${ROOT_MIB}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root
PARTS
dd if="$WORK/efi.img" of="$DISK" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.img" of="$DISK" bs=1M seek=$((1 + EFI_MIB)) conv=notrunc,sparse status=none
