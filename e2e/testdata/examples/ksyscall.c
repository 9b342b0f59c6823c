//go:build ignore

// Counts execve calls per process with BPF_KSYSCALL, which reads the
// kconfig extern LINUX_HAS_SYSCALL_WRAPPER to find the syscall's
// arguments; built with -target amd64 (__TARGET_ARCH_x86).
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1024);
} execs SEC(".maps");

SEC("ksyscall/execve")
int BPF_KSYSCALL(execve_entry, const char *filename, const char *const *argv)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *n;

	if (!filename)
		return 0;
	n = bpf_map_lookup_elem(&execs, &pid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&execs, &pid, &one, BPF_ANY);
	return 0;
}
