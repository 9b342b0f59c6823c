// A CO-RE program whose relocations change its instructions on a real
// kernel: it reads task_struct fields through a minimal local definition
// whose offsets are not the kernel's, so every field access is rewritten
// at load time.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} last_task SEC(".maps");

SEC("kprobe/do_nanosleep")
int corerel_probe(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	int pid = BPF_CORE_READ(task, pid);
	int tgid = BPF_CORE_READ(task, tgid);
	__u32 key = 0;
	__u64 v = ((__u64)tgid << 32) | (__u32)pid;
	bpf_map_update_elem(&last_task, &key, &v, BPF_ANY);
	return 0;
}

char _license[] SEC("license") = "GPL";
