//go:build ignore

// Uses a __ksym variable (a text symbol, listed in /proc/kallsyms without
// CONFIG_KALLSYMS_ALL): the loader writes the symbol's kernel address
// (from /proc/kallsyms, different on every boot) into the instruction.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void schedule __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} addr SEC(".maps");

SEC("socket")
int ksym_prog(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 a = (__u64)&schedule;

	bpf_map_update_elem(&addr, &zero, &a, BPF_ANY);
	return 0;
}

char _license[] SEC("license") = "GPL";
