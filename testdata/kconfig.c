// SPDX-License-Identifier: GPL-2.0
// Uses a __kconfig extern (LINUX_KERNEL_VERSION), which the loader must
// resolve by populating the .kconfig section before loading.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kernel_version SEC(".maps");

SEC("socket")
int kconfig_prog(struct __sk_buff *skb)
{
	__u32 zero = 0, ver = LINUX_KERNEL_VERSION;

	bpf_map_update_elem(&kernel_version, &zero, &ver, BPF_ANY);
	return skb->len;
}

char _license[] SEC("license") = "GPL";
