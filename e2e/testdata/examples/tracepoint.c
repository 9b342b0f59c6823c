//go:build ignore

// Counts page allocations from a tracepoint, reading its context through
// the tracepoint's format.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} counting_map SEC(".maps");

// /sys/kernel/tracing/events/kmem/mm_page_alloc/format
struct alloc_info {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	unsigned long pfn;
	unsigned int order;
	unsigned int gfp_flags;
	int migratetype;
};

SEC("tracepoint/kmem/mm_page_alloc")
int mm_page_alloc(struct alloc_info *info)
{
	__u32 key = 0;
	__u64 initval = 1, *valp;

	if (info->order > 10)
		return 0;
	valp = bpf_map_lookup_elem(&counting_map, &key);
	if (!valp) {
		bpf_map_update_elem(&counting_map, &key, &initval, BPF_ANY);
		return 0;
	}
	__sync_fetch_and_add(valp, 1);
	return 0;
}
