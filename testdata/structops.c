// A TCP congestion control in struct_ops (programs only in struct_ops
// sections and a .struct_ops.link map, the shape of a sched_ext
// scheduler). bpf2go cannot declare the ops struct in Go (function
// pointers), hence -no-global-types.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char __license[] SEC("license") = "GPL";

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/ssthresh")
__u32 BPF_PROG(signed_ssthresh, struct sock *sk)
{
	return 16;
}

SEC("struct_ops/cong_avoid")
void BPF_PROG(signed_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/undo_cwnd")
__u32 BPF_PROG(signed_undo_cwnd, struct sock *sk)
{
	return 16;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops signed_cc = {
	.ssthresh = (void *)signed_ssthresh,
	.cong_avoid = (void *)signed_cong_avoid,
	.undo_cwnd = (void *)signed_undo_cwnd,
	.name = "bpf2go_signed",
};
