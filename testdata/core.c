// SPDX-License-Identifier: GPL-2.0
// CO-RE kprobe on do_unlinkat(int dfd, struct filename *name). The kernel
// struct is described by a minimal local definition marked with
// preserve_access_index, and read with BPF_CORE_READ, so the object carries
// CO-RE relocations (.BTF.ext core_relo) that must be resolved against the
// running kernel's BTF at load time.
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64) && \
	!defined(__TARGET_ARCH_s390) && !defined(__TARGET_ARCH_riscv) && \
	!defined(__TARGET_ARCH_powerpc) && !defined(__TARGET_ARCH_mips) && \
	!defined(__TARGET_ARCH_arm) && !defined(__TARGET_ARCH_loongarch)
#define __TARGET_ARCH_x86
#endif

#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

// Minimal subset of the kernel's struct filename (include/linux/fs.h).
struct filename {
	const char *name;
} __attribute__((preserve_access_index));

#define NAME_LEN 64

struct unlink_event {
	__u32 pid;
	__u32 count;
	char name[NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unlink_event);
} last_unlink SEC(".maps");

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(core_unlinkat, int dfd, struct filename *name)
{
	__u32 zero = 0;
	struct unlink_event *ev;
	const char *path;

	ev = bpf_map_lookup_elem(&last_unlink, &zero);
	if (!ev)
		return 0;

	path = BPF_CORE_READ(name, name);
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->count++;
	bpf_probe_read_kernel_str(ev->name, sizeof(ev->name), path);

	return 0;
}

char _license[] SEC("license") = "GPL";
