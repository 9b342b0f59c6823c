package measure

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/bpf2go-signed/bpf2go-signed/internal/bpfsys"
)

// ErrNoFullDigest is wrapped by [FullDigestProbe] when the whole SHA-256
// of loaded programs cannot be read on this machine.
var ErrNoFullDigest = errors.New("full program digest unavailable")

// The full-digest backend. bpf_prog_info.tag is 8 bytes of the digest; on
// Linux 6.18+ struct bpf_prog keeps all 32 bytes (digest[32], in a union
// with tag[8]) but no system call returns them. An iterator program
// (iter/bpf_prog, a tracing program) can read them with BTF: it walks
// every loaded program and writes its id and digest to the iterator's
// seq_file. Machines that refuse tracing programs, and kernels whose
// struct bpf_prog has no 32-byte digest (before 6.18: the SHA-1 tag
// only), do not have this backend; the probe says which.

// fullDigestRecord is one record the iterator writes: u32 id, u32 pad,
// 32 bytes of digest.
const fullDigestRecord = 40

// fullDigestProbeMemo sets the backend up once per process and checks
// it (probeFullDigest). Its value is the first read of the digests, which
// the call that ran the probe returns (see [FullDigests]).
var fullDigestProbeMemo = memo[*probedDigests]{fn: probeFullDigest}

// probedDigests holds the digests the probe read, for the caller whose
// call ran it; that caller takes them (and clears the field), so the
// memo does not keep a stale read for the process's lifetime.
type probedDigests struct{ digests map[uint32]string }

func fullDigestProbe() error {
	p, fresh, err := fullDigestProbeMemo.getFresh()
	if fresh && err == nil {
		p.digests = nil // not wanted by this caller
	}
	return err
}

// digestRetry is how long a failed setup of the full-digest backend is
// remembered before it is tried again. A long-lived process (the agent)
// must not compare 64-bit tags for the rest of its life because one setup
// failed for a passing reason (memory, a signal, a busy kernel); where the
// kernel will always refuse (tracing programs not allowed), the price is
// one attempt per period. Facts of the kernel's BTF (no digest member)
// are read once and fail at once.
const digestRetry = 30 * time.Second

// memo calls fn until it succeeds and then keeps its value for the
// process; a failure is kept for digestRetry. It is safe for concurrent
// use.
type memo[T any] struct {
	fn  func() (T, error)
	now func() time.Time // time.Now; set by tests

	mu   sync.Mutex
	done bool
	val  T
	err  error
	at   time.Time
}

func (m *memo[T]) get() (T, error) {
	v, _, err := m.getFresh()
	return v, err
}

// getFresh is get, and says whether fn ran in this call (fresh).
func (m *memo[T]) getFresh() (v T, fresh bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now
	if m.now != nil {
		now = m.now
	}
	if m.done {
		return m.val, false, nil
	}
	if m.err != nil && now().Sub(m.at) < digestRetry {
		return m.val, false, m.err
	}
	m.val, m.err = m.fn()
	m.done, m.at = m.err == nil, now()
	return m.val, true, m.err
}

// FullDigestProbe returns nil when the kernel's full 256-bit program
// digests can be read (see [FullDigests]), or why not, wrapping
// [ErrNoFullDigest]: no kernel BTF, no 32-byte digest in struct bpf_prog
// (kernels before 6.18 keep only the 8-byte tag), or the kernel refuses
// to load or attach the iterator program (no tracing programs, no
// bpf_prog iterator). The answer is cached for the process.
func FullDigestProbe() error { return fullDigestProbe() }

// FullDigests reads the full SHA-256 digest of every program loaded on the
// host, by id, through a bpf_prog iterator. It fails with the probe's
// reason where the backend is unavailable.
func FullDigests() (map[uint32]string, error) {
	p, fresh, err := fullDigestProbeMemo.getFresh()
	if err != nil {
		return nil, err
	}
	if fresh {
		// The probe has just read them: the same answer as a read now.
		d := p.digests
		p.digests = nil
		return d, nil
	}
	return readFullDigests()
}

// probeFullDigest loads and attaches the iterator and checks what it
// reads: it must report, for a program whose tag the kernel gave here
// (the iterator program itself, which it walks like any other), the
// digest whose first 8 bytes are that tag; wrong offsets would read
// something else. The digests it read are returned for the first caller.
func probeFullDigest() (*probedDigests, error) {
	it, err := digestIter()
	if err != nil {
		return nil, err
	}
	got, err := readFullDigests()
	if err != nil {
		return nil, err
	}
	if err := checkOwnDigest(got, it.id, it.tag); err != nil {
		return nil, err
	}
	return &probedDigests{got}, nil
}

// checkOwnDigest checks that digests holds, for the program id whose
// kernel tag is tag (hex), a 32-byte digest that begins with it.
func checkOwnDigest(digests map[uint32]string, id uint32, tag string) error {
	d, ok := digests[id]
	if !ok || len(d) != 64 || d[:2*tagSize] != tag {
		return fmt.Errorf("%w: the iterator reports digest %q for program id %d, whose tag is %s", ErrNoFullDigest, d, id, tag)
	}
	return nil
}

// layout are the offsets the iterator program reads, from kernel BTF, and
// the BTF id of the iterator's target function.
type layout struct {
	digest, aux, auxID uint32
	iterFunc           uint32
}

// btfFacts is what the measurement needs from the kernel's BTF, read in
// one pass once per process (scanKernelBTF): whether struct bpf_prog
// holds the full digest, and the iterator's layout.
type btfFacts struct {
	// hasDigest: struct bpf_prog has the digest member (6.18+).
	hasDigest bool
	// layout is the iterator's offsets, or layoutErr why there are none.
	layout    *layout
	layoutErr error
}

var kernelBTFFacts = sync.OnceValues(scanKernelBTF)

func digestLayout() (*layout, error) {
	f, err := kernelBTFFacts()
	if err != nil {
		return nil, err
	}
	return f.layout, f.layoutErr
}

// digestIterLink is the attached bpf_prog iterator: the link's fd, which
// the process keeps for its lifetime (the link keeps the program), and
// the program's id and tag (hex) as the kernel reports them.
type digestIterLink struct {
	fd  int
	id  uint32
	tag string
}

// digestIterMemo loads and attaches the bpf_prog iterator once per
// process: loading a tracing program costs milliseconds, opening its
// iterator microseconds.
var digestIterMemo = memo[digestIterLink]{fn: func() (digestIterLink, error) {
	l, err := digestLayout()
	if err != nil {
		return digestIterLink{}, err
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.DWord), // ctx->meta
		asm.LoadMem(asm.R7, asm.R1, 8, asm.DWord), // ctx->prog (NULL at the end)
		asm.JEq.Imm(asm.R7, 0, "out"),
		asm.LoadMem(asm.R8, asm.R6, 0, asm.DWord), // meta->seq
		asm.LoadMem(asm.R1, asm.R7, int16(l.aux), asm.DWord),
		asm.LoadMem(asm.R1, asm.R1, int16(l.auxID), asm.Word),
		asm.StoreMem(asm.RFP, -40, asm.R1, asm.DWord),
	}
	for i := int16(0); i < 4; i++ {
		insns = append(insns,
			asm.LoadMem(asm.R1, asm.R7, int16(l.digest)+8*i, asm.DWord),
			asm.StoreMem(asm.RFP, -32+8*i, asm.R1, asm.DWord))
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R8),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -40),
		asm.Mov.Imm(asm.R3, fullDigestRecord),
		asm.FnSeqWrite.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	// Loaded with the target's BTF id from the scan: cilium/ebpf would
	// parse the whole kernel BTF again to find it.
	raw, err := SubmittedInstructions(&ebpf.ProgramSpec{Instructions: insns})
	if err != nil {
		return digestIterLink{}, err
	}
	prog, err := bpfsys.LoadBTFProgram(uint32(ebpf.Tracing), uint32(ebpf.AttachTraceIter), "b2gs_digests", raw, "GPL", l.iterFunc)
	if err != nil {
		return digestIterLink{}, fmt.Errorf("%w: load the bpf_prog iterator (a tracing program): %w", ErrNoFullDigest, err)
	}
	defer unix.Close(prog) // the link holds it
	info, _, err := bpfsys.ProgramInfo(prog)
	if err != nil {
		return digestIterLink{}, fmt.Errorf("%w: the bpf_prog iterator: %w", ErrNoFullDigest, err)
	}
	fd, err := bpfsys.AttachIter(prog)
	if err != nil {
		return digestIterLink{}, fmt.Errorf("%w: attach the bpf_prog iterator: %w", ErrNoFullDigest, err)
	}
	digestIterID.Store(info.ID)
	return digestIterLink{fd: fd, id: info.ID, tag: hex.EncodeToString(info.Tag[:])}, nil
}}

func digestIter() (digestIterLink, error) { return digestIterMemo.get() }

var digestIterID atomic.Uint32

// DigestIteratorID returns the id of this process's bpf_prog iterator
// program (the full-digest backend), or 0 when it has none. Audits leave
// it out: it is the auditor's own tool, not a program under audit.
func DigestIteratorID() uint32 { return digestIterID.Load() }

func readFullDigests() (map[uint32]string, error) {
	it, err := digestIter()
	if err != nil {
		return nil, err
	}
	fd, err := bpfsys.IterCreate(it.fd)
	if err != nil {
		return nil, fmt.Errorf("%w: open the bpf_prog iterator: %w", ErrNoFullDigest, err)
	}
	r := os.NewFile(uintptr(fd), "bpf_prog iterator")
	defer r.Close()
	// Room for 2048 programs' records at once (io.ReadAll would start
	// at 512 bytes and copy its buffer at every growth).
	buf := bytes.NewBuffer(make([]byte, 0, 2048*fullDigestRecord))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("read the bpf_prog iterator: %w", err)
	}
	raw := buf.Bytes()
	if len(raw)%fullDigestRecord != 0 {
		return nil, fmt.Errorf("bpf_prog iterator: %d bytes, not a multiple of %d", len(raw), fullDigestRecord)
	}
	out := make(map[uint32]string, len(raw)/fullDigestRecord)
	for i := 0; i < len(raw); i += fullDigestRecord {
		out[binary.NativeEndian.Uint32(raw[i:])] = hex.EncodeToString(raw[i+8 : i+fullDigestRecord])
	}
	return out, nil
}

// FullDigestsIfAvailable reads the full digests where the backend is
// available and returns nil and the reason where it is not (the reason is
// the probe's, cached; a failure after a successful probe is returned
// too).
func FullDigestsIfAvailable() (map[uint32]string, error) { return FullDigests() }

// DigestBackend says in one line which backend a pass compares
// instructions with: the full digest, or the 64-bit tag and why.
func DigestBackend() string {
	if err := fullDigestProbe(); err != nil {
		return "tag (64 bits of the digest; collision about 2^32 work, second preimage about 2^64): " + err.Error()
	}
	return "full digest (256 bits: struct bpf_prog.digest read with a bpf_prog iterator)"
}
