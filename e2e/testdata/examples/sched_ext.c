//go:build ignore

// The minimal sched_ext scheduler: no program at all, only a
// .struct_ops.link map whose value names the scheduler (Linux 6.12+ with
// CONFIG_SCHED_CLASS_EXT loads it; loading does not switch schedulers,
// attaching would).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "Dual MIT/GPL";

struct sched_ext_ops {
	char name[128];
};

SEC(".struct_ops.link")
struct sched_ext_ops minimal_sched = {
	.name = "minimal",
};
