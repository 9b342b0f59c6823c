// An object with a map and globals but no program: measuring it must fail
// with a clear error.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 4);
} lonely SEC(".maps");

const volatile __u32 unused_setting = 7;

char _license[] SEC("license") = "GPL";
