// Hostile fixture: a sealed array whose zero contents would take 4 PiB
// (0xffffffff entries of 1 MiB). Measuring it must fail with one line,
// without allocating the array.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

struct blob {
	__u8 b[1 << 20];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct blob);
	__uint(max_entries, 0xffffffff);
} huge SEC(".maps") __sealed;

SEC("socket")
int hugemap_prog(struct __sk_buff *skb)
{
	__u32 key = 7;
	struct blob *v = bpf_map_lookup_elem(&huge, &key);
	return v ? v->b[3] : 0;
}

char _license[] SEC("license") = "GPL";
