// SPDX-License-Identifier: GPL-2.0
// Socket filter exercising BPF-to-BPF calls:
//   subprog_filter -> account_packet (static noinline)
//                       -> bump_counter (static noinline, uses counters map)
//   subprog_filter -> snap_length (global noinline, uses config map)
// so map references occur inside subprograms, not only in the entry point.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum {
	CNT_PACKETS = 0,
	CNT_BYTES = 1,
	CNT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); // snap length, 0 = whole packet
} snap_config SEC(".maps");

static __attribute__((noinline)) int bump_counter(__u32 idx, __u64 delta)
{
	__u64 *val = bpf_map_lookup_elem(&counters, &idx);

	if (!val)
		return -1;
	__sync_fetch_and_add(val, delta);
	return 0;
}

static __attribute__((noinline)) int account_packet(__u32 len)
{
	int err;

	err = bump_counter(CNT_PACKETS, 1);
	if (err)
		return err;
	return bump_counter(CNT_BYTES, len);
}

// Global function: verified independently by the kernel.
__attribute__((noinline)) int snap_length(__u32 len)
{
	__u32 key = 0;
	__u32 *snap = bpf_map_lookup_elem(&snap_config, &key);

	if (snap && *snap != 0 && *snap < len)
		return *snap;
	return len;
}

SEC("socket")
int subprog_filter(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (account_packet(len))
		return 0;
	return snap_length(len);
}

char _license[] SEC("license") = "GPL";
