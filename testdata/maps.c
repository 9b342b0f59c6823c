// SPDX-License-Identifier: GPL-2.0
// One XDP program using four map types: ARRAY, HASH, PERCPU_ARRAY and
// RINGBUF. Every packet is counted; each new ingress interface is recorded
// in the hash map and reported through the ring buffer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);   // ifindex
	__type(value, __u64); // first-seen timestamp (ns)
} seen_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct iface_event {
	__u64 timestamp;
	__u32 ifindex;
	__u32 rx_queue;
};

SEC("xdp")
int maps_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0, ifindex = ctx->ingress_ifindex;
	__u64 now = bpf_ktime_get_ns();
	__u64 *val;
	struct iface_event *ev;

	val = bpf_map_lookup_elem(&total_packets, &zero);
	if (val)
		__sync_fetch_and_add(val, 1);

	val = bpf_map_lookup_elem(&percpu_bytes, &zero);
	if (val)
		*val += ctx->data_end - ctx->data;

	if (bpf_map_lookup_elem(&seen_ifaces, &ifindex))
		return XDP_PASS;
	if (bpf_map_update_elem(&seen_ifaces, &ifindex, &now, BPF_NOEXIST))
		return XDP_PASS;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev)
		return XDP_PASS;
	ev->timestamp = now;
	ev->ifindex = ifindex;
	ev->rx_queue = ctx->rx_queue_index;
	bpf_ringbuf_submit(ev, 0);

	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
