package measure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestJudgeWriteProbe: the write probe is trusted only when the frozen map
// answers EPERM, the writable one EINVAL or EFAULT, and nothing was
// written.
func TestJudgeWriteProbe(t *testing.T) {
	for _, tt := range []struct {
		name       string
		errW, errF error
		after      uint32
		ok         bool
	}{
		{"EINVAL then EPERM (no spin lock)", unix.EINVAL, unix.EPERM, 1, true},
		{"EFAULT then EPERM (spin lock, no key)", unix.EFAULT, unix.EPERM, 1, true},
		{"frozen map not refused", unix.EINVAL, unix.EINVAL, 1, false},
		{"writable map refused as frozen", unix.EPERM, unix.EPERM, 1, false},
		{"writable map accepted the write", nil, unix.EPERM, 1, false},
		{"element changed", unix.EINVAL, unix.EPERM, 2, false},
		{"other errors", unix.E2BIG, unix.EOPNOTSUPP, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := judgeWriteProbe(tt.errW, tt.errF, 1, tt.after)
			if tt.ok != (err == nil) {
				t.Fatalf("judgeWriteProbe = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
				t.Fatalf("%v does not wrap ebpf.ErrNotSupported", err)
			}
		})
	}
}

// TestJudgeMapHash: the kernel's map hash is used only when it is the
// array algorithm's hash of the probe array; kernels before 6.18 refuse
// the request (E2BIG: bpf_map_info's hash fields are a non-zero tail they
// do not know) and are reported as not supporting it.
func TestJudgeMapHash(t *testing.T) {
	const value = 0x01020304
	right, err := HashArray(NativeOrder, 4, 1, []Entry{{binary.NativeEndian.AppendUint32(nil, 0), binary.NativeEndian.AppendUint32(nil, value)}})
	if err != nil {
		t.Fatal(err)
	}
	wrong := right
	wrong[0] ^= 1
	for _, tt := range []struct {
		name string
		sum  [32]byte
		err  error
		ok   bool
	}{
		{"6.18: the array algorithm's hash", right, nil, true},
		{"another algorithm", wrong, nil, false},
		{"before 6.18: unknown tail of bpf_map_info", [32]byte{}, fmt.Errorf("BPF_OBJ_GET_INFO_BY_FD with hash: %w", unix.E2BIG), false},
		{"no hash for this map", [32]byte{}, unix.EINVAL, false},
		{"not frozen", [32]byte{}, unix.EPERM, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := judgeMapHash(tt.sum, tt.err, value)
			if tt.ok != (err == nil) {
				t.Fatalf("judgeMapHash = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
				t.Fatalf("%v does not wrap ebpf.ErrNotSupported", err)
			}
		})
	}
}
