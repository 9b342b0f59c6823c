// SPDX-License-Identifier: GPL-2.0
// Map declaration order differs from the order of first reference.
//
// Declared in the source (and in the ELF symbol table / .maps section):
//   map_a, map_b, map_c, map_d, map_e
//
// Order of first reference in the instruction stream of maporder_prog
// (verified with `llvm-objdump-19 -dr maporder_bpfel.o`):
//   map_d, map_b, map_e, map_a, map_c
//
// The kernel records a program's maps (bpf_prog_info.map_ids) in the order
// the verifier first encounters them, i.e. the same order as above.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define DEFINE_COUNTER_MAP(name)                  \
	struct {                                  \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, 1);           \
		__type(key, __u32);               \
		__type(value, __u64);             \
	} name SEC(".maps")

DEFINE_COUNTER_MAP(map_a);
DEFINE_COUNTER_MAP(map_b);
DEFINE_COUNTER_MAP(map_c);
DEFINE_COUNTER_MAP(map_d);
DEFINE_COUNTER_MAP(map_e);

SEC("socket")
int maporder_prog(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *v;

	// Each lookup is followed by a side effect so the compiler keeps the
	// references in this exact order.
	v = bpf_map_lookup_elem(&map_d, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&map_b, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&map_e, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&map_a, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&map_c, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);

	return skb->len;
}

char _license[] SEC("license") = "GPL";
