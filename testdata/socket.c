// SPDX-License-Identifier: GPL-2.0
// Socket filter: counts packets and bytes in an array map and accepts the
// whole packet by returning skb->len.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum {
	STAT_PACKETS = 0,
	STAT_BYTES = 1,
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_stats SEC(".maps");

SEC("socket")
int socket_count(struct __sk_buff *skb)
{
	__u32 key;
	__u64 *val;

	key = STAT_PACKETS;
	val = bpf_map_lookup_elem(&sock_stats, &key);
	if (val)
		__sync_fetch_and_add(val, 1);

	key = STAT_BYTES;
	val = bpf_map_lookup_elem(&sock_stats, &key);
	if (val)
		__sync_fetch_and_add(val, skb->len);

	return skb->len;
}

char _license[] SEC("license") = "GPL";
