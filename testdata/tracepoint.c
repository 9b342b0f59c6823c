// SPDX-License-Identifier: GPL-2.0
// Tracepoint program on syscalls/sys_enter_openat. The context layout is
// described by a plain struct (no CO-RE), following
// /sys/kernel/tracing/events/syscalls/sys_enter_openat/format.
// Counts openat calls per process (tgid) in a hash map.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct openat_enter_args {
	__u16 common_type;
	__u8 common_flags;
	__u8 common_preempt_count;
	__s32 common_pid;
	__s32 syscall_nr;
	__u32 __pad;
	__s64 dfd;
	__u64 filename; // const char __user *
	__s64 flags;
	__u64 mode;
};

#define O_CREAT_FLAG 0100

struct open_stats {
	__u64 calls;
	__u64 creates;
	__s32 last_syscall_nr;
	__s32 last_dfd;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); // tgid
	__type(value, struct open_stats);
} openat_by_pid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct openat_enter_args *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct open_stats *st, init = {};

	st = bpf_map_lookup_elem(&openat_by_pid, &pid);
	if (!st) {
		bpf_map_update_elem(&openat_by_pid, &pid, &init, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&openat_by_pid, &pid);
		if (!st)
			return 0;
	}

	__sync_fetch_and_add(&st->calls, 1);
	if (ctx->flags & O_CREAT_FLAG)
		__sync_fetch_and_add(&st->creates, 1);
	st->last_syscall_nr = ctx->syscall_nr;
	st->last_dfd = (__s32)ctx->dfd;

	return 0;
}

char _license[] SEC("license") = "GPL";
