#!/usr/bin/env bash
# The bpf2go-signed demo (make demo): builds the XDP example, attaches the
# verified filter inside two network namespaces joined by a veth pair,
# sends traffic to an allowed and to a blocked port, shows the verdict and
# the counters, then shows a tampered build being refused with nothing
# attached. Everything it creates is removed on exit, also on failure or
# Ctrl-C. Needs root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it creates network namespaces and attaches XDP programs)" >&2
	exit 1
fi
./scripts/install-deps.sh
export PATH="$PATH:/usr/local/go/bin:/usr/sbin"

tmp="$(mktemp -d)"
ns_c="b2gs-client-$$"
ns_s="b2gs-server-$$"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	ip netns del "$ns_s" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

step "Build: go generate (signs with the demo key) and go build"
go generate ./examples/xdp
go build -o "$tmp/xdp-filter" ./examples/xdp
go build -o "$tmp/trafficgen" ./examples/xdp/trafficgen
echo "blocked ports (sealed): $(tr -d ' \n' < examples/xdp/blocked_ports.json)"

step "Network: $ns_c (169.254.77.1) <-veth-> $ns_s (169.254.77.2)"
ip netns add "$ns_c"
ip netns add "$ns_s"
ip link add veth-c netns "$ns_c" type veth peer name veth-s netns "$ns_s"
ip -n "$ns_c" addr add 169.254.77.1/24 dev veth-c
ip -n "$ns_s" addr add 169.254.77.2/24 dev veth-s
for ns in "$ns_c" "$ns_s"; do ip -n "$ns" link set lo up; done
ip -n "$ns_c" link set veth-c up
ip -n "$ns_s" link set veth-s up

ip netns exec "$ns_s" "$tmp/trafficgen" serve -tcp 8080,9090 -udp 6000,5353 > "$tmp/serve.log" 2>&1 &
pids+=($!)

step "Load, verify through the kernel, attach to veth-s"
ip netns exec "$ns_s" "$tmp/xdp-filter" -iface veth-s > "$tmp/filter.log" 2>&1 &
filter=$!
pids+=($filter)
for _ in $(seq 100); do
	grep -q "Attached\|nothing was attached\|xdp-filter:" "$tmp/filter.log" && break
	sleep 0.1
done
cat "$tmp/filter.log"
grep -q "Attached" "$tmp/filter.log" || { echo "demo: the filter did not attach" >&2; exit 1; }
grep -q "Verdict: .*: OK" "$tmp/filter.log" || { echo "demo: the verdict is not OK" >&2; exit 1; }

step "Traffic from $ns_c: TCP 8080 and UDP 6000 are allowed, TCP 9090 and UDP 5353 are blocked"
ip netns exec "$ns_c" "$tmp/trafficgen" probe -host 169.254.77.2 -tcp 8080,9090 -udp 6000,5353 -timeout 1s | tee "$tmp/probe.log"
sleep 1.2
kill -INT "$filter"
wait "$filter" || true

step "Counters (summed over CPUs, printed every second until detach)"
tail -n 3 "$tmp/filter.log"
want=$'tcp 8080 answered\ntcp 9090 no answer\nudp 6000 answered\nudp 5353 no answer'
if [ "$(cat "$tmp/probe.log")" != "$want" ]; then
	echo "demo: traffic did not match the sealed config" >&2
	exit 1
fi
drops=$(grep -o 'drop [0-9]*' "$tmp/filter.log" | tail -n 1 | cut -d' ' -f2)
if [ "${drops:-0}" -eq 0 ]; then
	echo "demo: no packet was dropped" >&2
	exit 1
fi
echo "OK: the verified filter passed allowed traffic and dropped $drops packets to blocked ports"

step "Tampered build: blocked_ports contents changed after signing (9090 -> 9091)"
plan=examples/xdp/filter_bpfel.o.seal.json
# 9090 is 0x2382: key_hex "8223" little-endian; 9091 is "8323".
sed 's/"key_hex": "8223"/"key_hex": "8323"/' "$plan" > "$tmp/tampered.seal.json"
cmp -s "$plan" "$tmp/tampered.seal.json" && { echo "demo: could not tamper with $plan" >&2; exit 1; }
printf '{"Replace":{"%s":"%s"}}' "$root/$plan" "$tmp/tampered.seal.json" > "$tmp/overlay.json"
go build -overlay "$tmp/overlay.json" -o "$tmp/xdp-filter-tampered" ./examples/xdp
set +e
ip netns exec "$ns_s" "$tmp/xdp-filter-tampered" -iface veth-s > "$tmp/tampered.log" 2>&1
code=$?
set -e
cat "$tmp/tampered.log"
if [ "$code" -ne 3 ]; then
	echo "demo: the tampered build was not refused (exit $code)" >&2
	exit 1
fi
if ip -n "$ns_s" link show veth-s | grep -q xdp; then
	echo "demo: an XDP program is attached after the refusal" >&2
	exit 1
fi
echo "OK: the tampered build was refused and nothing is attached to veth-s"
ip -n "$ns_s" link show veth-s

step "Done: namespaces and programs are removed on exit"
