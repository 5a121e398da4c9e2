#!/usr/bin/env bash
# Builds Tinman's network installer and a bootable test OS image, offline,
# from Debian packages already installed:
#
#   scripts/build-installer.sh OUTDIR [IMAGE_NAME]
#
# OUTDIR receives:
#   kernel           the kernel (/boot/vmlinuz-<newest>, linux-image-amd64)
#   initrd           the installer and wiper (cpio.gz): busybox-static, the
#                    e1000, virtio-blk and vfat modules of that kernel, and
#                    scripts/installer/installer-init as /init
#   disk.img         a bootable disk: MBR (syslinux's mbr.bin) and one FAT16
#                    partition from 1 MiB with syslinux, the same kernel, the
#                    OS initramfs (scripts/installer/os-init as /init) and
#                    IMAGE, a file holding IMAGE_NAME (default tinman-os)
#   disk.img.sha256  "<sha256>  disk.img"
#   installer.iso    with Debian's ipxe package only (IPXE_ISO, default
#                    /usr/lib/ipxe/ipxe.iso): iPXE on a CD for virtual
#                    media. Booted from the virtual CD it asks DHCP, chains
#                    to the boot file (the boot service's chain script) and
#                    from there boots the installer exactly as PXE does.
#
# How the pieces meet (docs/INSTALLER.md): the boot service boots kernel and
# initrd with tinman.meta=<url>; the installer fetches the metadata, checks the
# image's sha256 before writing it, writes it, leaves tinman.env (job, token,
# callback URL) on the image's partition and reports "installed"; booted from
# disk, the OS reads IMAGE and tinman.env and reports "booted" with the name.
#
# Needs: busybox-static, linux-image-amd64, syslinux, syslinux-common, mtools,
# gzip (and cpio, for a reproducible archive). No network, no root, no loop devices. Running it again rebuilds the
# same files (fixed timestamps and volume id): the sha256 only changes with
# its inputs.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [IMAGE_NAME]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
image_name=${2:-tinman-os}
[[ $image_name =~ ^[A-Za-z0-9._:-]{1,64}$ ]] || { echo "IMAGE_NAME '$image_name': letters, digits and ._:- only" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$here/installer

# --- inputs ------------------------------------------------------------------
BUSYBOX=${BUSYBOX:-/bin/busybox}
SYSLINUX_DIR=${SYSLINUX_DIR:-/usr/lib/syslinux}
KERNEL=${KERNEL:-$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)}
fail() { echo "build-installer: $*" >&2; exit 1; }
[ -n "$KERNEL" ] && [ -r "$KERNEL" ] || fail "no readable kernel in /boot (apt-get install linux-image-amd64)"
kver=${KERNEL##*/vmlinuz-}
moddir=${MODULES_DIR:-/lib/modules/$kver}
[ -r "$moddir/modules.dep" ] || fail "no modules for $kver in $moddir (linux-image-$kver)"
[ -x "$BUSYBOX" ] || fail "no $BUSYBOX (apt-get install busybox-static)"
# The initramfs has no libc: ldd must find nothing to load.
if command -v ldd >/dev/null && ldd "$BUSYBOX" >/dev/null 2>&1; then
	fail "$BUSYBOX is not static (apt-get install busybox-static)"
fi
banner=$("$BUSYBOX" 2>&1 || true) # read whole: a pipe cut short is SIGPIPE, a failure under pipefail
[[ $banner == BusyBox* ]] || fail "$BUSYBOX is not busybox"
[ -r "$SYSLINUX_DIR/mbr/mbr.bin" ] || fail "no $SYSLINUX_DIR/mbr/mbr.bin (apt-get install syslinux-common)"
for tool in syslinux mformat mcopy gzip; do
	command -v "$tool" >/dev/null || fail "no $tool (apt-get install syslinux mtools gzip)"
done

# Every file gets this time, so that a rebuild is byte for byte the same.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/tinman-installer.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- modules: the NIC, the disk and FAT, with their dependencies -------------
# Loaded by /init in this order (dependencies first).
MODULES=(e1000 virtio_pci virtio_blk nls_cp437 nls_ascii vfat)
order=()
add_module() {
	local name=$1 path dep
	path=$(grep -E "(^|/)${name}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | head -n 1 | cut -d: -f1)
	[ -n "$path" ] || { grep -qE "/${name}\.ko" "$moddir/modules.builtin" && return 0; fail "no module $name for $kver"; }
	for dep in $(grep -E "^${path}:" "$moddir/modules.dep" | cut -d: -f2); do
		dep=${dep##*/}
		add_module "${dep%%.ko*}"
	done
	local m
	for m in "${order[@]}"; do [ "$m" = "$path" ] && return 0; done
	order+=("$path")
}
for m in "${MODULES[@]}"; do add_module "$m"; done

# stage ROOT INIT fills an initramfs tree with busybox, the modules and INIT.
stage() {
	local root=$1 init=$2 path name
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,mnt,tmp,etc,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	: >"$root/lib/modules/load-order"
	for path in "${order[@]}"; do
		name=${path##*/}
		name=${name%%.ko*}
		case $path in
		*.ko) cp "$moddir/$path" "$root/lib/modules/$name.ko" ;;
		*.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
		*.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
		*.ko.gz) gzip -dc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
		esac
		echo "$name" >>"$root/lib/modules/load-order"
	done
	{ echo 'PATH=/sbin:/usr/sbin:/bin:/usr/bin; export PATH'; cat "$src/lib.sh"; } >"$root/lib/tinman.sh"
	install -m 0755 "$src/udhcpc.script" "$root/etc/udhcpc.script"
	install -m 0755 "$init" "$root/init"
}

# cpio_gz ROOT FILE packs ROOT as a newc cpio, gzip'd, with fixed times,
# owner root and, with GNU cpio, renumbered inodes (busybox's cpio writes the
# build machine's inode numbers: the archive then differs from build to build).
cpio_gz() {
	local pack=("$BUSYBOX" cpio -o -H newc)
	command -v cpio >/dev/null && pack=(cpio -o -H newc --reproducible -R 0:0 --quiet)
	find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "${pack[@]}" 2>/dev/null) | gzip -9 -n >"$2"
}

stage "$work/installer" "$src/installer-init"
cpio_gz "$work/installer" "$work/initrd"
stage "$work/os" "$src/os-init"
cpio_gz "$work/os" "$work/os-initrd"
cp "$KERNEL" "$work/kernel"

# --- disk.img: MBR + one bootable FAT16 partition from 1 MiB -----------------
part_start=2048 # sectors: 1 MiB
part_mib=$(( ( $(stat -c %s "$work/kernel") + $(stat -c %s "$work/os-initrd") ) / 1048576 + 4 ))
part_sectors=$(( part_mib * 2048 ))
cat >"$work/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT os
PROMPT 0
TIMEOUT 0
LABEL os
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 quiet
CFG
printf '%s\n' "$image_name" >"$work/IMAGE"
touch -d "@$SOURCE_DATE_EPOCH" "$work/syslinux.cfg" "$work/IMAGE" "$work/kernel" "$work/os-initrd"
part=$work/part.img
rm -f "$part"
truncate -s $(( part_sectors * 512 )) "$part"
# mformat: FAT16, 64 heads, 32 sectors per track, fixed volume id.
mformat -i "$part" -F -h 64 -s 32 -T "$part_sectors" -H "$part_start" -N 54494e4d -v TINMAN :: 2>/dev/null ||
	mformat -i "$part" -h 64 -s 32 -T "$part_sectors" -H "$part_start" -N 54494e4d -v TINMAN ::
mcopy -m -i "$part" "$work/kernel" ::/vmlinuz
mcopy -m -i "$part" "$work/os-initrd" ::/initrd.gz
mcopy -m -i "$part" "$work/syslinux.cfg" ::/syslinux.cfg
mcopy -m -i "$part" "$work/IMAGE" ::/IMAGE
syslinux --install "$part"

disk=$work/disk.img
rm -f "$disk"
truncate -s $(( (part_start + part_sectors) * 512 )) "$disk"
dd if="$SYSLINUX_DIR/mbr/mbr.bin" of="$disk" bs=440 count=1 conv=notrunc status=none
# le32 N: N as four little-endian bytes, in printf's octal escapes.
le32() { printf '\\%03o\\%03o\\%03o\\%03o' $(( $1 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 >> 16 & 255 )) $(( $1 >> 24 & 255 )); }
# The one partition entry: active, CHS unused (0xfe 0xff 0xff), type 0x0e
# (FAT16, LBA), first sector, sector count; then the 0x55aa signature.
# shellcheck disable=SC2059
printf "\\200\\376\\377\\377\\016\\376\\377\\377$(le32 $part_start)$(le32 $part_sectors)" |
	dd of="$disk" bs=1 seek=446 conv=notrunc status=none
printf '\125\252' | dd of="$disk" bs=1 seek=510 conv=notrunc status=none
dd if="$part" of="$disk" bs=512 seek="$part_start" conv=notrunc status=none
(cd "$work" && sha256sum disk.img >disk.img.sha256)

# --- publish: each file replaced whole --------------------------------------
mkdir -p "$out"
files=(kernel initrd disk.img disk.img.sha256)
IPXE_ISO=${IPXE_ISO:-/usr/lib/ipxe/ipxe.iso}
if [ -f "$IPXE_ISO" ]; then
	cp "$IPXE_ISO" "$work/installer.iso"
	files+=(installer.iso)
fi
for f in "${files[@]}"; do
	cp "$work/$f" "$out/.$f.new"
	mv -f "$out/.$f.new" "$out/$f"
done
echo "build-installer: $out: kernel ($kver), initrd ($(stat -c %s "$out/initrd") bytes), disk.img ($image_name, $(stat -c %s "$out/disk.img") bytes, sha256 $(cut -d' ' -f1 "$out/disk.img.sha256"))"
