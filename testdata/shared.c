// SPDX-License-Identifier: GPL-2.0
// Two programs (XDP and TC) that share the same two maps: a per-hook packet
// counter array and a hash of "blocked" ifindexes. Both programs reference
// both maps.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

enum {
	HOOK_XDP = 0,
	HOOK_TC = 1,
	HOOK_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HOOK_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hook_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);  // ifindex
	__type(value, __u8); // unused marker
} blocked_ifindex SEC(".maps");

static __always_inline void count_hook(__u32 hook)
{
	__u64 *cnt = bpf_map_lookup_elem(&hook_packets, &hook);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

SEC("xdp")
int shared_xdp(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;

	count_hook(HOOK_XDP);
	if (bpf_map_lookup_elem(&blocked_ifindex, &ifindex))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tc")
int shared_tc(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;

	count_hook(HOOK_TC);
	if (bpf_map_lookup_elem(&blocked_ifindex, &ifindex))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual MIT/GPL";
