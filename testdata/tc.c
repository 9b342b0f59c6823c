// SPDX-License-Identifier: GPL-2.0
// TC classifier (sched_cls): counts bytes per ingress ifindex in a hash map
// and always lets the packet through.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   // ifindex
	__type(value, __u64); // bytes
} bytes_by_ifindex SEC(".maps");

SEC("tc")
int tc_count_bytes(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	__u64 len = skb->len;
	__u64 *bytes;

	bytes = bpf_map_lookup_elem(&bytes_by_ifindex, &ifindex);
	if (bytes) {
		__sync_fetch_and_add(bytes, len);
	} else {
		bpf_map_update_elem(&bytes_by_ifindex, &ifindex, &len, BPF_NOEXIST);
	}

	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
