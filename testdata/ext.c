// Programs that attach to another BPF program without changing its tag or
// map_ids: an extension (freplace) of subprog.c's global function
// snap_length, and an fentry program on it. They need a kernel that allows
// tracing and extension programs (the tests probe and skip otherwise).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("freplace/snap_length")
int replace_snap(__u32 len)
{
	return 0; /* every packet snapped to nothing */
}

SEC("fentry/snap_length")
int watch_snap(unsigned long long *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
