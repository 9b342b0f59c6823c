// Large but valid: a sealed array of 768 × 1 MiB zero values. Its content
// hash must be computed as a stream, in far less memory than 768 MiB.
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
	__uint(max_entries, 768);
} big SEC(".maps") __sealed;

SEC("socket")
int bigmap_prog(struct __sk_buff *skb)
{
	__u32 key = skb->len % 768;
	struct blob *v = bpf_map_lookup_elem(&big, &key);
	return v ? v->b[3] : 0;
}

char _license[] SEC("license") = "GPL";
