// A program that writes a map it declares sealed: loading it with the map
// sealed must fail and name the map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf2go_signed.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} limits SEC(".maps") __sealed;

SEC("socket")
int sealed_writer(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&limits, &key);
	if (v)
		*v = skb->len; /* forbidden once limits is BPF_F_RDONLY_PROG */
	return 0;
}

char _license[] SEC("license") = "GPL";
