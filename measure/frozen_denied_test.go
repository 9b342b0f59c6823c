package measure_test

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
)

const deniedChildEnv = "BPF2GO_SIGNED_TEST_WRITE_DENIED_CHILD"

// TestFrozenStateWriteDenied: EPERM is how Linux refuses a write to a
// frozen map, but not only that: a seccomp filter (or a BPF LSM program
// on the bpf hook) that denies BPF_MAP_UPDATE_ELEM answers EPERM too. The
// write probe is judged once per process; if map updates are denied
// after that (a process that sandboxes itself once set up, a policy
// installed later), a map that is not frozen, whose contents anyone with
// a writable fd or a program can still change, must not be measured as
// frozen and given a sealed content hash. The check runs in a child
// process, as a seccomp filter cannot be removed.
func TestFrozenStateWriteDenied(t *testing.T) {
	if os.Getenv(deniedChildEnv) != "" {
		writeDeniedChild(t)
		return
	}
	testutil.RequireBPF(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the seccomp filter of this test is written for x86-64")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFrozenStateWriteDenied$", "-test.v")
	cmd.Env = append(os.Environ(), deniedChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestFrozenStateWriteDenied") {
		t.Fatalf("child did not pass:\n%s", out)
	}
}

func writeDeniedChild(t *testing.T) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Put(uint32(1), uint32(1)); err != nil {
		t.Fatal(err)
	}
	// The write probe is judged now, while writes are allowed.
	km, err := measure.KernelMapFD(m.FD(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if km.Frozen {
		t.Fatal("measured frozen before anything was denied")
	}
	denyMapUpdates(t)
	if err := m.Put(uint32(1), uint32(2)); err == nil {
		t.Fatal("the seccomp filter did not deny the update")
	}
	km, err = measure.KernelMapFD(m.FD(), nil)
	if err != nil {
		t.Fatal(err)
	}
	frozen, err := bpfsys.MapFrozen(m.FD())
	if err != nil {
		t.Fatal(err)
	}
	if frozen {
		t.Fatal("fdinfo says frozen; the map was never frozen")
	}
	if km.Frozen || km.Content != nil {
		t.Errorf("a map that is not frozen (fdinfo frozen: 0), with updates denied to this process: measured frozen %v, content %+v", km.Frozen, km.Content)
	}
}

// denyMapUpdates installs, on every thread, a seccomp filter that fails
// bpf(BPF_MAP_UPDATE_ELEM, ...) with EPERM and allows everything else.
func denyMapUpdates(t *testing.T) {
	const (
		ldAbsW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK     = unix.BPF_RET | unix.BPF_K
		retAllow = 0x7fff0000 // SECCOMP_RET_ALLOW
		retErrno = 0x00050000 // SECCOMP_RET_ERRNO
		archX86  = 0xc000003e // AUDIT_ARCH_X86_64
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: 4}, // seccomp_data.arch
		{Code: jeqK, Jt: 0, Jf: 5, K: archX86},
		{Code: ldAbsW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 3, K: unix.SYS_BPF},
		{Code: ldAbsW, K: 16}, // seccomp_data.args[0], low half
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.BPF_MAP_UPDATE_ELEM},
		{Code: retK, K: retErrno | uint32(unix.EPERM)},
		{Code: retK, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	const setModeFilter, flagTsync = 1, 1
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, setModeFilter, flagTsync, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		t.Fatalf("seccomp: %v", errno)
	}
	runtime.KeepAlive(filter)
}
