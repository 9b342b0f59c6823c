package gate

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/bpf2go-signed/bpf2go-signed/audit"
	"github.com/bpf2go-signed/bpf2go-signed/measure"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// keySize is the size of an allow-set key (KEY_SIZE in gate.c).
const keySize = 32

// LSMFile lists the active Linux security modules.
const LSMFile = "/sys/kernel/security/lsm"

// Errors.
var (
	// ErrNoBPFLSM: the kernel does not run the BPF LSM, so LSM programs
	// would attach but never run. Nothing is loaded.
	ErrNoBPFLSM = errors.New("the BPF LSM is not active")
	// ErrMode: an unknown mode.
	ErrMode = errors.New("mode must be enforce or audit")
	// ErrTooMany: the trust directory holds more digests than the allow
	// map takes.
	ErrTooMany = errors.New("too many signed digests for the allow map")
)

// Mode says what the gate does with a load whose digest is not allowed.
type Mode uint32

// Modes. The values are those of gate.c.
const (
	// Enforce refuses the load with EPERM and logs it.
	Enforce Mode = 0
	// Audit logs the load and lets it pass (for rollout).
	Audit Mode = 1
)

func (m Mode) String() string {
	if m == Audit {
		return "audit"
	}
	return "enforce"
}

// ParseMode reads "enforce" or "audit".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "enforce":
		return Enforce, nil
	case "audit":
		return Audit, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrMode)
}

// Event kinds, as sent by gate.c.
const (
	EventLoadRefused = 1 // enforce: a load refused with EPERM
	EventLoadAudit   = 2 // audit: a load not in the allow set, allowed
	EventSelfRefused = 3 // a command on the gate's own objects, refused
	EventNoCommand   = 4 // a program fd created with no recorded bpf(2) command
)

// Self kinds in self_ids, as in gate.c.
const (
	selfMap  = 1
	selfLink = 2
)

// Stats indexes, as in gate.c.
const (
	StatAllowed = iota
	StatRefused
	StatAudited
	StatSelf
	StatLost
	statMax
)

// Options configure [Start].
type Options struct {
	// TrustDir holds public keys (*.pub) and signed envelopes
	// (*.intoto.json, with their objects next to them when available),
	// as for "prog verify --trust".
	TrustDir string
	Mode     Mode
	// PinDir, when set, is a directory on bpffs where the gate pins its
	// links and maps, so that enforcement outlives the process. A gate
	// pinned there before is replaced without a gap.
	PinDir string
	// Log receives one line per event (refusals, audits, reloads,
	// programs loaded before the gate). Nil discards.
	Log func(string)
	// Poll is how often the trust directory is checked for changes
	// (default 1s; negative: never, call Reload).
	Poll time.Duration
}

// Gate is a running gate.
type Gate struct {
	opts   Options
	objs   gateObjects
	spec   *ebpf.CollectionSpec
	report *bpfsigned.Report
	links  []link.Link
	digest bool   // keys are full 32-byte digests (else 8-byte tags)
	alg    string // tag algorithm when !digest
	self   [][keySize]byte

	reload sync.Mutex // one swap at a time (poll and SIGHUP)
	mu     sync.Mutex
	inner  *ebpf.Map
	trust  *audit.Trust
	fprint [32]byte
	nkeys  int

	rd   *ringbuf.Reader
	stop chan struct{}
	done sync.WaitGroup
}

// Probe reports whether the BPF LSM runs: "bpf" must be listed in
// /sys/kernel/security/lsm. A kernel without it loads and attaches LSM
// programs but never runs them, so this is the only trustworthy sign.
func Probe() error {
	raw, err := os.ReadFile(LSMFile)
	if err != nil {
		return fmt.Errorf("%w: cannot read %s (%v): securityfs not mounted or no LSM support", ErrNoBPFLSM, LSMFile, err)
	}
	return probeList(string(raw))
}

// probeList checks the contents of /sys/kernel/security/lsm.
func probeList(raw string) error {
	list := strings.TrimSpace(raw)
	if !slices.Contains(strings.Split(list, ","), "bpf") {
		return fmt.Errorf("%w: %s lists %q, without bpf; boot a kernel built with CONFIG_BPF_LSM with bpf in lsm= (e.g. lsm=%s,bpf)", ErrNoBPFLSM, LSMFile, list, list)
	}
	return nil
}

func (g *Gate) logf(format string, args ...any) {
	if g.opts.Log != nil {
		g.opts.Log(fmt.Sprintf(format, args...))
	}
}

// Start loads the gate's programs through their verifying loader (the
// gate's own signed measurement; CO-RE sites make the verdict PARTIAL on
// kernels not in the signed set, which the gate accepts and logs), fills
// the allow set from the trust directory, attaches lsm/bpf then
// lsm/bpf_prog, and reports every program loaded before it.
func Start(opts Options) (*Gate, error) {
	if err := Probe(); err != nil {
		return nil, err
	}
	if opts.Mode != Enforce && opts.Mode != Audit {
		return nil, fmt.Errorf("mode %d: %w", opts.Mode, ErrMode)
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	g := &Gate{opts: opts, stop: make(chan struct{})}
	trust, fprint, err := loadTrust(opts.TrustDir)
	if err != nil {
		return nil, err
	}
	switch err := measure.HaveProgDigest(); {
	case err == nil:
		g.digest = true
	case !errors.Is(err, ebpf.ErrNotSupported):
		return nil, fmt.Errorf("gate: no kernel BTF with struct bpf_prog (CONFIG_DEBUG_INFO_BTF): the gate reads programs with CO-RE: %w", err)
	}
	if !g.digest {
		if g.alg, err = measure.TagAlgorithm(); err != nil {
			return nil, err
		}
	}
	if opts.PinDir != "" {
		g.drainPinned()
	}
	if g.spec, err = loadGate(); err != nil {
		return nil, err
	}
	policy := &bpfsigned.Policy{Accept: []bpfsigned.Verdict{bpfsigned.OK, bpfsigned.Partial}}
	g.report, err = loadGateObjectsVerified(&g.objs, nil, policy)
	if err != nil {
		return nil, fmt.Errorf("gate: verified load of the gate's own programs: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			g.close(true)
		}
	}()
	g.logf("gate programs: %s", oneLine(g.report.String()))
	cfg := gateConfig{Mode: uint32(opts.Mode), OwnerTgid: uint32(os.Getpid())}
	if err := g.objs.Config.Put(uint32(0), &cfg); err != nil {
		return nil, fmt.Errorf("gate: config: %w", err)
	}
	for _, m := range []*ebpf.Map{g.objs.Allow, g.objs.Config, g.objs.Events, g.objs.SelfIds, g.objs.Stats, g.objs.TaskCmds} {
		if err := g.protect(selfMap, m); err != nil {
			return nil, err
		}
	}
	// The gate's own programs are allowed by their kernel tag, so that a
	// new gate can replace a pinned one without a gap. They are reported,
	// not silently allowed.
	for _, p := range []*ebpf.Program{g.objs.GateBpf, g.objs.GateProg} {
		info, err := p.Info()
		if err != nil {
			return nil, err
		}
		id, _ := info.ID()
		if g.digest {
			// bpf_prog_info does not return the digest; a replacement
			// gate needs its own envelope, signed for this kernel.
			g.logf("gate program id %d %s: not self-allowed (the kernel keeps a 32-byte digest that bpf_prog_info does not return)", id, info.Name)
			continue
		}
		var k [keySize]byte
		tag, err := hex.DecodeString(info.Tag)
		if err != nil || len(tag) != 8 {
			return nil, fmt.Errorf("gate: program %s tag %q", info.Name, info.Tag)
		}
		copy(k[:], tag)
		g.self = append(g.self, k)
		g.logf("gate program id %d %s tag %s (%s): allowed as the gate's own program", id, info.Name, info.Tag, g.alg)
	}
	if err := g.swap(trust, fprint); err != nil {
		return nil, err
	}
	if g.rd, err = ringbuf.NewReader(g.objs.Events); err != nil {
		return nil, fmt.Errorf("gate: ring buffer: %w", err)
	}
	// lsm/bpf first: gate_prog relies on the command it records.
	for _, p := range []*ebpf.Program{g.objs.GateBpf, g.objs.GateProg} {
		l, err := link.AttachLSM(link.LSMOptions{Program: p})
		if err != nil {
			return nil, fmt.Errorf("gate: attach %s: %w", p, err)
		}
		g.links = append(g.links, l)
		info, err := l.Info()
		if err != nil {
			return nil, err
		}
		if err := g.objs.SelfIds.Put(gateSelfKey{Kind: selfLink, Id: uint32(info.ID)}, uint32(1)); err != nil {
			return nil, fmt.Errorf("gate: self_ids: %w", err)
		}
	}
	if opts.PinDir != "" {
		if err := g.pin(); err != nil {
			return nil, err
		}
	}
	g.done.Add(1)
	go g.readEvents()
	g.reportLoaded()
	if opts.Poll > 0 {
		g.done.Add(1)
		go g.watch()
	}
	g.logf("gate %s: %d allowed digests (%s), pid %d", opts.Mode, g.nkeys, g.keyKind(), os.Getpid())
	ok = true
	return g, nil
}

func (g *Gate) keyKind() string {
	if g.digest {
		return "full SHA-256 digest"
	}
	return g.alg + " tag, 8 bytes"
}

// Report is the verdict on the gate's own programs.
func (g *Gate) Report() *bpfsigned.Report { return g.report }

// KeyKind says what the allow set holds: the full 32-byte digest or the
// 8-byte tag and its algorithm.
func (g *Gate) KeyKind() string { return g.keyKind() }

// protect adds a map's id to self_ids: other processes can no longer
// write, delete, freeze it.
func (g *Gate) protect(kind uint32, m *ebpf.Map) error {
	info, err := m.Info()
	if err != nil {
		return err
	}
	id, ok := info.ID()
	if !ok {
		return errors.New("gate: kernel does not report map ids")
	}
	if err := g.objs.SelfIds.Put(gateSelfKey{Kind: kind, Id: uint32(id)}, uint32(1)); err != nil {
		return fmt.Errorf("gate: self_ids: %w", err)
	}
	return nil
}

func (g *Gate) unprotect(m *ebpf.Map) {
	if info, err := m.Info(); err == nil {
		if id, ok := info.ID(); ok {
			_ = g.objs.SelfIds.Delete(gateSelfKey{Kind: selfMap, Id: uint32(id)})
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// loadTrust reads the trust directory and fingerprints what it read.
func loadTrust(dir string) (*audit.Trust, [32]byte, error) {
	fp, err := fingerprint(dir)
	if err != nil {
		return nil, fp, err
	}
	t, err := audit.LoadTrustDir(dir)
	if err != nil {
		return nil, fp, fmt.Errorf("gate: trust directory: %w", err)
	}
	return t, fp, nil
}

// fingerprint hashes the paths and contents of the files a trust
// directory is read from (in any subdirectory, as audit.LoadTrustDir).
func fingerprint(dir string) ([32]byte, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		fmt.Fprintf(h, "%s\x00%x\n", path, sha256.Sum256(b))
		return nil
	})
	var out [32]byte
	if err != nil {
		return out, fmt.Errorf("gate: trust directory: %w", err)
	}
	copy(out[:], h.Sum(nil))
	return out, nil
}

// keys are the allow-set keys of a trust: per signed program, every
// digest (one per CO-RE target), as the kernel will present it.
func (g *Gate) keys(t *audit.Trust) (map[[keySize]byte]string, error) {
	out := map[[keySize]byte]string{}
	for _, k := range g.self {
		out[k] = "gate"
	}
	for _, m := range t.Manifests {
		for i := range m.Manifest.Programs {
			p := &m.Manifest.Programs[i]
			for _, d := range p.Digests() {
				var hexKey string
				switch {
				case g.digest:
					hexKey = d.Digest
				case g.alg == measure.TagSHA256:
					hexKey = d.Tag
				default:
					hexKey = d.TagSHA1
				}
				raw, err := hex.DecodeString(hexKey)
				if err != nil {
					return nil, fmt.Errorf("gate: %s#%s: digest %q: %w", m.File, p.Name, hexKey, err)
				}
				var k [keySize]byte
				copy(k[:], raw)
				out[k] = m.File + "#" + p.Name
			}
		}
	}
	if max := int(g.spec.Maps["allow"].InnerMap.MaxEntries); len(out) > max {
		return nil, fmt.Errorf("%d digests, at most %d: %w", len(out), max, ErrTooMany)
	}
	return out, nil
}

// swap builds a new inner allow map from t, protects it, checks what the
// kernel holds in it, and puts it in the allow slot in one update: a
// lookup sees the whole old set or the whole new one.
func (g *Gate) swap(t *audit.Trust, fprint [32]byte) error {
	keys, err := g.keys(t)
	if err != nil {
		return err
	}
	inner, err := ebpf.NewMap(g.spec.Maps["allow"].InnerMap)
	if err != nil {
		return fmt.Errorf("gate: new allow map: %w", err)
	}
	// Protected before it is filled: from here on, writes by others are
	// refused (once the gate is attached).
	if err := g.protect(selfMap, inner); err != nil {
		inner.Close()
		return err
	}
	for k := range keys {
		if err := inner.Put(k[:], uint32(1)); err != nil {
			g.unprotect(inner)
			inner.Close()
			return fmt.Errorf("gate: fill allow map: %w", err)
		}
	}
	// Read back: exactly the keys written, nothing added by anyone else
	// between creation and protection.
	var k [keySize]byte
	var v uint32
	n := 0
	it := inner.Iterate()
	for it.Next(&k, &v) {
		if _, ok := keys[k]; !ok {
			g.unprotect(inner)
			inner.Close()
			return fmt.Errorf("gate: allow map holds %x, which the gate did not write", k)
		}
		n++
	}
	if err := it.Err(); err != nil || n != len(keys) {
		g.unprotect(inner)
		inner.Close()
		return fmt.Errorf("gate: allow map read back %d of %d keys: %v", n, len(keys), err)
	}
	if err := g.objs.Allow.Put(uint32(0), inner); err != nil {
		g.unprotect(inner)
		inner.Close()
		return fmt.Errorf("gate: swap allow map: %w", err)
	}
	g.mu.Lock()
	old := g.inner
	g.inner, g.trust, g.fprint, g.nkeys = inner, t, fprint, len(keys)
	g.mu.Unlock()
	if old != nil {
		g.unprotect(old)
		old.Close()
	}
	for _, s := range t.Skipped {
		g.logf("trust: not trusted: %s", s)
	}
	return nil
}

// Reload reads the trust directory again and, when it changed, swaps in
// the new allow set. It reports whether it swapped.
func (g *Gate) Reload() (bool, error) {
	g.reload.Lock()
	defer g.reload.Unlock()
	fp, err := fingerprint(g.opts.TrustDir)
	if err != nil {
		return false, err
	}
	g.mu.Lock()
	same := fp == g.fprint
	g.mu.Unlock()
	if same {
		return false, nil
	}
	t, fp, err := loadTrust(g.opts.TrustDir)
	if err != nil {
		return false, err
	}
	if err := g.swap(t, fp); err != nil {
		return false, err
	}
	g.logf("trust reloaded: %d allowed digests from %d envelopes", g.nkeys, len(t.Manifests))
	return true, nil
}

func (g *Gate) watch() {
	defer g.done.Done()
	tick := time.NewTicker(g.opts.Poll)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
			if _, err := g.Reload(); err != nil {
				// The old set stays in force.
				g.logf("trust reload failed, previous allow set kept: %v", err)
			}
		}
	}
}

// Event is one record of gate.c's ring buffer.
type Event struct {
	Kind     uint32
	Cmd      uint32
	PID      uint32
	UID      uint32
	ProgID   uint32
	ProgType ebpf.ProgramType
	TargetID uint32
	Key      []byte
	Comm     string
	ProgName string
}

func (e *Event) String() string {
	who := fmt.Sprintf("pid %d uid %d comm %q", e.PID, e.UID, e.Comm)
	key := "tag"
	if len(e.Key) == keySize {
		key = "digest"
	}
	switch e.Kind {
	case EventLoadRefused:
		return fmt.Sprintf("refused load (EPERM): prog id %d type %s name %q %s %x: not signed in the trust directory; %s", e.ProgID, e.ProgType, e.ProgName, key, e.Key, who)
	case EventLoadAudit:
		return fmt.Sprintf("audit: would refuse load: prog id %d type %s name %q %s %x: not signed in the trust directory; %s", e.ProgID, e.ProgType, e.ProgName, key, e.Key, who)
	case EventNoCommand:
		return fmt.Sprintf("program fd without a recorded bpf command (treated as a load): prog id %d type %s name %q %s %x; %s", e.ProgID, e.ProgType, e.ProgName, key, e.Key, who)
	case EventSelfRefused:
		return fmt.Sprintf("refused %s on the gate's own object id %d (EPERM); %s", cmdName(e.Cmd), e.TargetID, who)
	}
	return fmt.Sprintf("event kind %d; %s", e.Kind, who)
}

func cmdName(cmd uint32) string {
	names := map[uint32]string{2: "BPF_MAP_UPDATE_ELEM", 3: "BPF_MAP_DELETE_ELEM", 21: "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
		22: "BPF_MAP_FREEZE", 25: "BPF_MAP_LOOKUP_AND_DELETE_BATCH", 26: "BPF_MAP_UPDATE_BATCH", 27: "BPF_MAP_DELETE_BATCH",
		29: "BPF_LINK_UPDATE", 34: "BPF_LINK_DETACH"}
	if n, ok := names[cmd]; ok {
		return n
	}
	return fmt.Sprintf("bpf command %d", cmd)
}

func decodeEvent(raw []byte) (*Event, error) {
	var ev gateEvent
	if err := binary.Read(bytes.NewReader(raw), binary.NativeEndian, &ev); err != nil {
		return nil, err
	}
	e := &Event{Kind: ev.Kind, Cmd: ev.Cmd, PID: ev.Tgid, UID: ev.Uid, ProgID: ev.ProgId,
		ProgType: ebpf.ProgramType(ev.ProgType), TargetID: ev.TargetId}
	if n := int(ev.KeySize); n > 0 && n <= len(ev.Key) {
		e.Key = append([]byte(nil), ev.Key[:n]...)
	}
	e.Comm = cstr(ev.Comm[:])
	e.ProgName = cstr(ev.ProgName[:])
	return e, nil
}

func cstr(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func (g *Gate) readEvents() {
	defer g.done.Done()
	for {
		rec, err := g.rd.Read()
		if err != nil {
			return
		}
		e, err := decodeEvent(rec.RawSample)
		if err != nil {
			g.logf("undecodable event: %v", err)
			continue
		}
		g.logf("%s", e)
	}
}

// reportLoaded gives a verdict on every program loaded before the gate
// (and on the gate's own): they were not gated, so they are reported.
func (g *Gate) reportLoaded() {
	g.mu.Lock()
	t := g.trust
	g.mu.Unlock()
	own := map[string]bool{}
	for _, p := range []*ebpf.Program{g.objs.GateBpf, g.objs.GateProg} {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				own[fmt.Sprint(id)] = true
			}
		}
	}
	res, err := t.All()
	if err != nil {
		g.logf("loaded programs: audit failed: %v", err)
		return
	}
	for _, r := range res {
		what := "loaded before the gate"
		if own[fmt.Sprint(r.ID)] {
			what = "the gate's own program"
		}
		g.logf("%s: prog id %d type %s name %q tag %s: %s", what, r.ID, r.Type, r.Name, r.Tag, r.Verdict)
	}
}

// Stats are the gate's counters, summed over CPUs.
func (g *Gate) Stats() ([statMax]uint64, error) {
	var out [statMax]uint64
	for i := range uint32(statMax) {
		var per []uint64
		if err := g.objs.Stats.Lookup(i, &per); err != nil {
			return out, err
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out, nil
}

// drainPinned logs the events a pinned gate recorded while no process
// read them.
func (g *Gate) drainPinned() {
	m, err := ebpf.LoadPinnedMap(filepath.Join(g.opts.PinDir, "map_events"), nil)
	if err != nil {
		return
	}
	defer m.Close()
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		g.logf("pinned gate's events: %v", err)
		return
	}
	defer rd.Close()
	rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		rec, err := rd.Read()
		if err != nil {
			return
		}
		if e, err := decodeEvent(rec.RawSample); err == nil {
			g.logf("pinned gate, while no process read its log: %s", e)
		}
	}
}

// RecursionMisses is how many times the kernel skipped one of the gate's
// programs because it was already running on that CPU (Linux 5.12+). A
// load during a skipped run of gate_prog was not checked.
func (g *Gate) RecursionMisses() (uint64, error) {
	var n uint64
	for _, p := range []*ebpf.Program{g.objs.GateBpf, g.objs.GateProg} {
		st, err := p.Stats()
		if err != nil {
			return 0, err
		}
		n += st.RecursionMisses
	}
	return n, nil
}

// pin pins the gate's links and maps in PinDir, replacing the pins of a
// gate that ran there before: that gate keeps enforcing until its pins
// are gone, and this one is attached by then, so there is no gap.
func (g *Gate) pin() error {
	dir := g.opts.PinDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("gate: pin directory: %w", err)
	}
	names := map[string]interface{ Pin(string) error }{
		"link_bpf": g.links[0], "link_bpf_prog": g.links[1],
		"map_config": g.objs.Config, "map_allow": g.objs.Allow, "map_self_ids": g.objs.SelfIds,
		"map_events": g.objs.Events, "map_stats": g.objs.Stats, "map_task_cmds": g.objs.TaskCmds,
	}
	for name, obj := range names {
		path := filepath.Join(dir, name)
		if _, err := os.Lstat(path); err == nil {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("gate: replace pin %s: %w", path, err)
			}
			g.logf("replaced pin %s of a previous gate", path)
		}
		if err := obj.Pin(path); err != nil {
			return fmt.Errorf("gate: pin %s (PinDir must be on bpffs): %w", path, err)
		}
	}
	return nil
}

// Close stops the gate process's part. Without PinDir the links are
// closed and the kernel stops gating. With PinDir the pinned links keep
// enforcing with the last allow set, and the owner is cleared, so that no
// process can change the pinned gate's maps afterwards.
func (g *Gate) Close() error {
	return g.close(g.opts.PinDir == "")
}

func (g *Gate) close(detach bool) error {
	select {
	case <-g.stop:
		return nil
	default:
	}
	close(g.stop)
	if g.rd != nil {
		g.rd.Close()
	}
	g.done.Wait()
	var errs []error
	if !detach {
		cfg := gateConfig{Mode: uint32(g.opts.Mode), OwnerTgid: 0}
		errs = append(errs, g.objs.Config.Put(uint32(0), &cfg))
	}
	for _, l := range g.links {
		errs = append(errs, l.Close())
	}
	g.mu.Lock()
	if g.inner != nil {
		errs = append(errs, g.inner.Close())
	}
	g.mu.Unlock()
	errs = append(errs, g.objs.Close())
	return errors.Join(errs...)
}

// RemovePins removes a pinned gate's pins from dir. The links are released
// when no process holds them any more: enforcement then stops.
func RemovePins(dir string) error {
	var errs []error
	for _, n := range []string{"link_bpf", "link_bpf_prog", "map_config", "map_allow", "map_self_ids", "map_events", "map_stats", "map_task_cmds"} {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
