// SPDX-License-Identifier: GPL-2.0
// Global variables in all three data sections:
//   .rodata: const volatile constants, meant to be set before loading
//   .data:   initialized globals
//   .bss:    zero-initialized globals
// plus a regular array map. The program reads .rodata and updates .data and
// .bss.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// .rodata
const volatile __u32 sample_rate = 1;
const volatile __u64 min_len = 64;
const volatile char tag[16] = "globals";

// .data
__u64 packets_seen = 1;
__u32 last_len = 0xffffffff;

// .bss
__u64 packets_sampled;
__u64 bytes_sampled;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} tag_hist SEC(".maps");

SEC("socket")
int globals_filter(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 key;
	__u64 *slot;

	__sync_fetch_and_add(&packets_seen, 1);
	last_len = len;

	if (len < min_len)
		return 0;
	if (sample_rate > 1 && (packets_seen % sample_rate) != 0)
		return 0;

	__sync_fetch_and_add(&packets_sampled, 1);
	__sync_fetch_and_add(&bytes_sampled, len);

	// Bucket by the first character of the tag, just to read the array.
	key = (__u32)tag[0] & 0xf;
	slot = bpf_map_lookup_elem(&tag_hist, &key);
	if (slot)
		__sync_fetch_and_add(slot, 1);

	return len;
}

char _license[] SEC("license") = "GPL";
