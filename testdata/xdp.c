// SPDX-License-Identifier: GPL-2.0
// XDP program: parses Ethernet + IPv4, counts packets per IP protocol in an
// array map and a per-CPU array map, and decides XDP_PASS / XDP_DROP based on
// a value in an array "config" map.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_PROTO 256

// Index into config_map.
#define CFG_DROP_PROTO 0 // IP protocol to drop; 0 means "drop nothing".

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_PROTO);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_PROTO);
	__type(key, __u32);
	__type(value, __u64);
} proto_count_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} config_map SEC(".maps");

SEC("xdp")
int xdp_count_proto(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 proto, cfg_key = CFG_DROP_PROTO;
	__u32 *drop_proto;
	__u64 *cnt;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;

	proto = ip->protocol;

	cnt = bpf_map_lookup_elem(&proto_count, &proto);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);

	cnt = bpf_map_lookup_elem(&proto_count_percpu, &proto);
	if (cnt)
		*cnt += 1;

	drop_proto = bpf_map_lookup_elem(&config_map, &cfg_key);
	if (drop_proto && *drop_proto != 0 && *drop_proto == proto)
		return XDP_DROP;

	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
