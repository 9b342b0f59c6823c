#!/usr/bin/env bash
# Installs what the build and the tests need when it is missing: clang-19 and
# llvm-19 (BPF compiler and llvm-strip), libbpf-dev (bpf_helpers.h), bpftool
# and iproute2; for the agent's tests (agent/) Prometheus and promtool
# (Debian's prometheus package), systemd-analyze and setpriv. With --vm also
# what scripts/vm needs to boot Debian kernels (make test-kernels):
# qemu-system-x86, busybox-static, kmod (modprobe, depmod), xz-utils and zstd
# (compressed modules). Uses apt on Debian/Ubuntu; elsewhere it says what is
# missing. As root it also mounts tracefs when it is not mounted.
set -euo pipefail

need=()
if [ "${1:-}" = "--vm" ]; then
	command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
	{ command -v busybox >/dev/null && ! ldd "$(command -v busybox)" >/dev/null 2>&1; } || need+=(busybox-static)
	command -v modprobe >/dev/null && command -v depmod >/dev/null || need+=(kmod)
	command -v xz >/dev/null || need+=(xz-utils)
	command -v zstd >/dev/null || need+=(zstd)
	command -v apt-get >/dev/null || { echo "install-deps: the VM scripts download Debian's kernels with apt-get" >&2; exit 1; }
fi
command -v clang-19 >/dev/null || need+=(clang-19)
command -v llvm-strip-19 >/dev/null || need+=(llvm-19)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || need+=(bpftool)
command -v ip >/dev/null || need+=(iproute2)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v setpriv >/dev/null || need+=(util-linux)
command -v go >/dev/null || { echo "install-deps: Go 1.26 or newer is required (https://go.dev/dl/)" >&2; exit 1; }

# tracefs: cilium/ebpf reads it to fill LINUX_HAS_SYSCALL_WRAPPER (the
# BPF_KSYSCALL programs of e2e's examples); a fresh machine may not have it
# mounted.
if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing &&
	grep -qw tracefs /proc/filesystems; then
	mount -t tracefs tracefs /sys/kernel/tracing || echo "install-deps: could not mount tracefs at /sys/kernel/tracing" >&2
fi

if [ "${#need[@]}" -eq 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	echo "install-deps: missing ${need[*]}; install them with your package manager" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
