# Shared functions of the VM scripts (sourced by scripts/vm/run and
# scripts/vm/test-kernels; not run on its own).
#
# A kernel is named by a Debian package (linux-image-6.1.0-57-amd64-unsigned)
# or by a version line (6.1, 6.12: the newest amd64 image of that line that
# apt-cache lists). It is downloaded once with apt-get download, unpacked
# with dpkg -x into the cache (never installed: the host's /boot is not
# touched) and given a small initramfs: busybox-static, scripts/vm/init and
# the 9p, virtio and overlay modules from the package itself.
#
# Cache: $VM_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/bpf2go-signed/vm,
# one directory per package holding boot/vmlinuz-*, lib/modules/RELEASE
# (with modules.dep from depmod) and initramfs.gz. Delete a directory to
# download that kernel again.

export PATH="$PATH:/usr/sbin:/sbin"
VM_CACHE="${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpf2go-signed/vm}"
vm_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The modules the initramfs loads, by name; modprobe adds their dependencies.
# Modules built into a kernel are left out for it.
VM_INITRD_MODULES="9p 9pnet_virtio virtio_pci overlay"

vm_log() { echo "vm: $*" >&2; }
vm_die() {
	echo "vm: $*" >&2
	exit 2
}

# vm_resolve NAME prints the package name for NAME (a package name or a
# version line such as 6.1). Offline, a version line falls back to the
# newest package of that line already in the cache.
vm_resolve() {
	local name="$1"
	case "$name" in
	linux-image-*)
		echo "$name"
		return
		;;
	[0-9]*.[0-9]*) ;;
	*) vm_die "kernel '$name': give a Debian package (linux-image-...-amd64-unsigned) or a version line (6.1)" ;;
	esac
	# linux-image-6.1.0-57-amd64-unsigned, linux-image-6.12.117+deb12-amd64-unsigned;
	# not the cloud or rt flavours.
	local re="^linux-image-${name//./\\.}\\.[0-9][^ ]*-amd64-unsigned\$"
	# Lists older than a day may name a package the archive no longer has.
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null &&
		[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
		vm_log "apt lists missing or older than a day: apt-get update"
		apt-get update -qq >&2 || true
	fi
	local pkgs
	pkgs="$(apt-cache search --names-only "$re" 2>/dev/null | awk '{print $1}' | grep -v -e '-cloud-' -e '-rt-' || true)"
	if [ -z "$pkgs" ]; then
		pkgs="$(cd "$VM_CACHE" 2>/dev/null && for d in linux-image-*; do [ -f "$d/ready" ] && echo "$d"; done | grep -E "$re" || true)"
	fi
	[ -n "$pkgs" ] || vm_die "no Debian package for kernel $name (apt-cache search linux-image-$name)"
	echo "$pkgs" | sort -V | tail -n 1
}

# vm_prepare PACKAGE downloads and unpacks PACKAGE into the cache, once, and
# builds its initramfs when scripts/vm/init changed; prints the cache
# directory.
vm_prepare() {
	local pkg="$1" dir="$VM_CACHE/$1"
	mkdir -p "$VM_CACHE"
	(
		# One preparation at a time per cache (several runs may start at once).
		flock 9
		[ -f "$dir/ready" ] || vm_unpack "$pkg" "$dir"

		# Named by what goes into it, so that an edited init is used.
		local sum
		sum="$({ cat "$vm_dir/init"; echo "$VM_INITRD_MODULES"; } | sha256sum | cut -c1-12)"
		if [ ! -f "$dir/initramfs-$sum.gz" ]; then
			rm -f "$dir"/initramfs-*.gz
			vm_initramfs "$dir" "$(cat "$dir/release")" "$dir/initramfs-$sum.gz.tmp"
			mv "$dir/initramfs-$sum.gz.tmp" "$dir/initramfs-$sum.gz"
		fi
		ln -sfn "initramfs-$sum.gz" "$dir/initramfs.gz"
	) 9>"$VM_CACHE/.lock" || exit $?
	echo "$dir"
}

# vm_unpack PACKAGE DIR downloads PACKAGE and unpacks its kernel and modules
# into DIR (called with the cache locked).
vm_unpack() {
	local pkg="$1" dir="$2" tmp release
	vm_log "downloading $pkg into $dir"
	tmp="$(mktemp -d "$VM_CACHE/.prep.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
		vm_die "apt-get download $pkg failed (is it in apt-cache search linux-image?)"
	dpkg -x "$tmp"/*.deb "$tmp/x"
	release="$(ls "$tmp/x/lib/modules")"
	[ -n "$release" ] && [ -f "$tmp/x/boot/vmlinuz-$release" ] ||
		vm_die "$pkg has no boot/vmlinuz-RELEASE and lib/modules/RELEASE"
	mkdir -p "$tmp/k/boot" "$tmp/k/lib/modules"
	mv "$tmp/x/boot/"* "$tmp/k/boot/"
	mv "$tmp/x/lib/modules/$release" "$tmp/k/lib/modules/"
	depmod -b "$tmp/k" "$release"
	echo "$release" >"$tmp/k/release"
	touch "$tmp/k/ready"
	rm -rf "$dir"
	mv "$tmp/k" "$dir"
	rm -rf "$tmp"
	trap - EXIT
}

# vm_initramfs ROOT RELEASE OUT writes a gzip'd newc cpio to OUT with a
# static busybox, scripts/vm/init and the modules of VM_INITRD_MODULES (and
# their dependencies, in load order, decompressed) from ROOT/lib/modules.
vm_initramfs() {
	local root="$1" release="$2" out="$3"
	local busybox
	busybox="$(command -v busybox || true)"
	[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
		vm_die "a static busybox is needed (apt-get install busybox-static)"
	local ird
	ird="$(mktemp -d)"
	mkdir -p "$ird/bin" "$ird/modules" "$ird/proc" "$ird/sys" "$ird/dev"
	cp "$busybox" "$ird/bin/busybox"
	cp "$vm_dir/init" "$ird/init"
	chmod 755 "$ird/init"
	: >"$ird/modules/order"
	local deps line path base
	deps="$(modprobe -d "$root" -S "$release" --show-depends -a $VM_INITRD_MODULES)" ||
		vm_die "modprobe --show-depends failed for $release (apt-get install kmod)"
	# "insmod /path/x.ko.xz" per module, dependencies first; "builtin x" for
	# the built-in ones. A module needed by two appears twice: keep the first.
	while read -r line; do
		case "$line" in
		insmod\ *) ;;
		*) continue ;;
		esac
		path="${line#insmod }"
		path="${path%% *}"
		base="$(basename "$path")"
		base="${base%.xz}"
		base="${base%.zst}"
		grep -qx "$base" "$ird/modules/order" && continue
		case "$path" in
		*.xz) xz -dc "$path" >"$ird/modules/$base" ;;
		*.zst) zstd -qdc "$path" >"$ird/modules/$base" ;;
		*) cp "$path" "$ird/modules/$base" ;;
		esac
		echo "$base" >>"$ird/modules/order"
	done <<<"$deps"
	(cd "$ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
	rm -rf "$ird"
}
