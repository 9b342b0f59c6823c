//go:build ignore

// Reports the smoothed RTT of TCP connections from sockops; reads struct
// tcp_sock through a minimal local definition with CO-RE, so its field
// offsets are relocated for each kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

struct tcp_sock {
	__u32 srtt_us;
	__u32 snd_cwnd;
} __attribute__((preserve_access_index));

struct rtt_event {
	__u32 srtt_us;
	__u32 snd_cwnd;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__type(value, struct rtt_event);
} rtt_events SEC(".maps");

SEC("sockops")
int bpf_sockops_cb(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct tcp_sock *ts;
	struct rtt_event *ev;

	if (skops->op != BPF_SOCK_OPS_RTT_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	ts = (struct tcp_sock *)bpf_skc_to_tcp_sock(sk);
	if (!ts)
		return 1;
	ev = bpf_ringbuf_reserve(&rtt_events, sizeof(*ev), 0);
	if (!ev)
		return 1;
	ev->srtt_us = BPF_CORE_READ(ts, srtt_us) >> 3;
	ev->snd_cwnd = BPF_CORE_READ(ts, snd_cwnd);
	bpf_ringbuf_submit(ev, 0);
	return 1;
}
