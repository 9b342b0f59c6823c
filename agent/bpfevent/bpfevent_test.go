package bpfevent

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
)

func TestParseCPUList(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}, false},
		{"", nil, true},
		{"3-1", nil, true},
		{"a", nil, true},
	} {
		got, err := parseCPUList(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestOpenRefusesBadRing(t *testing.T) {
	for _, n := range []int{0, -1, 3, 12} {
		if _, err := Open(n); err == nil {
			t.Errorf("Open(%d) accepted a ring that is not a power of two", n)
		}
	}
}

func openReader(t *testing.T, pages int) *Reader {
	t.Helper()
	testutil.RequireBPF(t)
	r, err := Open(pages)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("kernel feature missing: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func load(t *testing.T) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "MIT", Name: "bpfevent_test",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 3), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadUnload: a load and an unload in this process come back as events
// with the program's id and tag and a kernel time between before and after.
func TestLoadUnload(t *testing.T) {
	r := openReader(t, 8)
	events := make(chan Event, 1024)
	done := make(chan error, 1)
	go func() {
		for {
			ev, err := r.Read()
			if err != nil {
				done <- err
				return
			}
			events <- ev
		}
	}()

	before := Now()
	p := load(t)
	after := Now()
	info, _ := p.Info()
	id, _ := info.ID()
	tag := info.Tag
	p.Close()

	var sawLoad, sawUnload bool
	deadline := time.After(10 * time.Second)
	for !sawLoad || !sawUnload {
		select {
		case ev := <-events:
			if ev.ID != uint32(id) {
				continue // another process's program
			}
			if got := hexTag(ev.Tag); got != tag {
				t.Errorf("%v event tag %s, program tag %s", ev.Kind, got, tag)
			}
			switch ev.Kind {
			case Load:
				sawLoad = true
				if ev.Time < before || ev.Time > after {
					t.Errorf("load time %v not within [%v, %v]", ev.Time, before, after)
				}
			case Unload:
				sawUnload = true
			}
		case <-deadline:
			t.Fatalf("no events for program %d (load %v, unload %v)", id, sawLoad, sawUnload)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	r.Release()
}

func hexTag(b [8]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 16)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// TestReleaseClosesDescriptors: Open then Release leaves the fd count as
// it was.
func TestReleaseClosesDescriptors(t *testing.T) {
	testutil.RequireBPF(t)
	before := testutil.OpenFDs(t)
	for range 3 {
		r := openReader(t, 4)
		if got := testutil.OpenFDs(t); got != before+2+r.CPUs() {
			t.Errorf("open: %d fds, want %d + epoll + eventfd + %d rings", got, before, r.CPUs())
		}
		r.Close()
		r.Release()
	}
	if got := testutil.OpenFDs(t); got != before {
		t.Errorf("fds %d after release, %d before", got, before)
	}
}

// TestLost: a ring of one page, filled while nobody reads, reports the
// records it dropped once there is room again.
func TestLost(t *testing.T) {
	r := openReader(t, 1)
	defer r.Release()
	defer r.Close()
	// 4096 bytes hold ~128 records of 32 bytes: 200 loads and unloads
	// on one CPU overflow it.
	pinCPU(t)
	for range 200 {
		load(t).Close()
	}
	var lost uint64
	var n int
	timer := time.AfterFunc(10*time.Second, func() { r.Close() })
	defer timer.Stop()
	for {
		ev, err := r.Read()
		if err != nil {
			break
		}
		n++
		if n == 1 {
			// Read drained the ring: the kernel writes the lost record
			// before the next one that fits.
			load(t).Close()
		}
		if ev.Kind == Lost {
			lost += ev.Count
			break
		}
	}
	if lost == 0 {
		t.Fatalf("read %d records, none reporting a loss", n)
	}
	t.Logf("%d records read, %d reported lost", n, lost)
}

// pinCPU keeps the test's goroutine on one thread and that thread on one
// CPU, so that every record goes to the same ring.
func pinCPU(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	for cpu := range 1024 {
		if set.IsSet(cpu) {
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.SchedSetaffinity(0, &set) })
			return
		}
	}
}
