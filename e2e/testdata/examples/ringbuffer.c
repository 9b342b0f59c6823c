//go:build ignore

// Sends an event per call through a ring buffer; the event type is
// generated in Go with -type event.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

struct event {
	__u32 pid;
	__u8 comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
	__type(value, struct event);
} events SEC(".maps");

SEC("kprobe/sys_execve")
int kprobe_execve(void *ctx)
{
	struct event *task_info;

	task_info = bpf_ringbuf_reserve(&events, sizeof(struct event), 0);
	if (!task_info)
		return 0;
	task_info->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&task_info->comm, 16);
	bpf_ringbuf_submit(task_info, 0);
	return 0;
}
