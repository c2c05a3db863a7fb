#!/bin/sh
# A GPT disk from a root directory, without mounting anything: an EFI partition made with
# mtools (systemd-boot, the kernel, the initrd) and an ext4 root made with mke2fs -d.
#
# Reproducible: every identifier (disk and partition GUIDs, file system UUID and hash seed,
# FAT serial) is derived from SOURCE_DATE_EPOCH, and every time stamp is SOURCE_DATE_EPOCH, so
# the same root directory always gives the same bytes.
# Usage: SOURCE_DATE_EPOCH=SECONDS assemble.sh ROOT DISK
set -eu
ROOT=$1 DISK=$2
EPOCH=${SOURCE_DATE_EPOCH:?set SOURCE_DATE_EPOCH, the time stamp of everything in the image}
export SOURCE_DATE_EPOCH E2FSPROGS_FAKE_TIME="$EPOCH"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
EFI_MIB=128
ROOT_MIB=${PARLEY_ROOT_MIB:-6144}

# A stable GUID per purpose, from the epoch: the same build gives the same disk.
guid() {
  printf 'parley %s %s' "$1" "$EPOCH" | sha256sum \
    | sed 's/^\(.\{8\}\)\(.\{4\}\).\(.\{3\}\).\(.\{3\}\)\(.\{12\}\).*/\1-\2-4\3-8\4-\5/'
}

KERNEL=$(ls "$ROOT"/boot/vmlinuz-* | tail -1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | tail -1)
mkfs.vfat --invariant -i "$(guid fat | cut -c1-8)" -C -n PARLEYEFI "$WORK/efi.img" $((EFI_MIB * 1024)) > /dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$WORK/efi.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -i "$WORK/efi.img" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$WORK/efi.img" "$KERNEL" ::/vmlinuz
mcopy -i "$WORK/efi.img" "$INITRD" ::/initrd
printf 'default parley.conf\ntimeout 0\n' > "$WORK/loader.conf"
printf 'title Parley\nlinux /vmlinuz\ninitrd /initrd\noptions root=LABEL=parley-root rw console=tty0 console=ttyS0,115200\n' > "$WORK/parley.conf"
mcopy -i "$WORK/efi.img" "$WORK/loader.conf" ::/loader/loader.conf
mcopy -i "$WORK/efi.img" "$WORK/parley.conf" ::/loader/entries/parley.conf

FS_UUID=$(guid ext4)
mke2fs -q -t ext4 -L parley-root -U "$FS_UUID" -E hash_seed="$FS_UUID" -d "$ROOT" "$WORK/root.img" "${ROOT_MIB}M"
# mke2fs copies each file's access and change times, which are the build's: set them (and the
# creation time) to the epoch. debugfs takes names in double quotes, so none may contain one.
if [ -n "$(find "$ROOT" -name '*"*' -print -quit)" ]; then
  echo "assemble.sh: a file name in $ROOT contains a double quote" >&2
  exit 1
fi
{ echo /; find "$ROOT" -mindepth 1 -printf '/%P\n'; } | awk -v at="@$EPOCH" '{
  printf "sif \"%s\" atime %s\nsif \"%s\" ctime %s\nsif \"%s\" crtime %s\n", $0, at, $0, at, $0, at
}' \
  > "$WORK/times.debugfs"
debugfs -w -f "$WORK/times.debugfs" "$WORK/root.img" > "$WORK/debugfs.log" 2>&1
if grep -v '^debugfs' "$WORK/debugfs.log" | grep -q .; then
  cat "$WORK/debugfs.log" >&2
  exit 1
fi

rm -f "$DISK"
truncate -s $((1 + EFI_MIB + ROOT_MIB + 1))M "$DISK"
sfdisk --quiet "$DISK" <<PARTS
label: gpt
label-id: $(guid disk)
start=1MiB, size=${EFI_MIB}MiB, type=U, name=efi, uuid=$(guid efi-partition)
size=${ROOT_MIB}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root, uuid=$(guid root-partition)
PARTS
dd if="$WORK/efi.img" of="$DISK" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.img" of="$DISK" bs=1M seek=$((1 + EFI_MIB)) conv=notrunc,sparse status=none
