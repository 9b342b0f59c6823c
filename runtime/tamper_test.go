package runtime_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap"
)

// TestTamper is the tamper matrix: every attack on what the kernel ends up
// running, or on what vouches for it, must make the verified load fail (a
// refusal with a verdict other than OK, or a load error), hand out nothing
// and leave no fd open.
//
// Attacks on the programs and maps themselves keep the object and its
// signature intact and change the spec in the same process before it
// reaches the kernel (the tamper hook): only the kernel's measurement can
// catch them.
func TestTamper(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := func() *bpfsigned.Object { return f.object(t, f.obj, f.manifest, f.key) }
	editEnvelope := func(edit func(e map[string]any)) *bpfsigned.Object {
		o := good()
		var e map[string]any
		if err := json.Unmarshal(o.Envelope, &e); err != nil {
			t.Fatal(err)
		}
		edit(e)
		o.Envelope, _ = json.Marshal(e)
		return o
	}
	otherStatementObj, _ := ebpfObject(t, "globals_bpfel.o")

	// The closure: tail calls through a sealed program array, a sealed
	// map reached through a map of maps, an open program array.
	tail := newFixtureFor(t, "tailcall_bpfel.o", sealmap.Config{})
	mim := newFixtureFor(t, "mapinmap_bpfel.o", sealmap.Config{Contents: map[string][]byte{"policy": []byte(`{"entries":[{"key":1,"value":1}]}`)}})
	open := newFixtureFor(t, "tailcall_open_bpfel.o", sealmap.Config{UnsealedProgArrays: []string{"dispatch"}})
	// A device map reached through a map of maps: whoever holds the
	// outer map puts in it a device map whose entries run a program.
	mimDevmap := newFixtureFor(t, "mimdevmap_bpfel.o", sealmap.Config{})
	// Global variables in .rodata (frozen), .data and .bss.
	globals := newFixtureFor(t, "globals_bpfel.o", sealmap.Config{})
	// retarget points the load of byte off of from's value at byte toOff
	// of to's: the tag zeroes both halves of the ldimm64, and when both
	// maps were used before the instruction map_ids keep their order.
	retarget := func(from string, off uint32, to string, toOff uint32) func(t *testing.T, spec *ebpf.CollectionSpec) {
		return func(t *testing.T, spec *ebpf.CollectionSpec) {
			for _, p := range spec.Programs {
				for i, ins := range p.Instructions {
					if ins.IsLoadFromMap() && ins.Src == asm.PseudoMapValue && ins.Reference() == from && uint32(uint64(ins.Constant)>>32) == off {
						ins.Constant = int64(uint64(toOff)<<32 | uint64(uint32(ins.Constant)))
						p.Instructions[i] = ins.WithReference(to)
						return
					}
				}
			}
			t.Fatalf("no load of %s+%d", from, off)
		}
	}
	signedBy := func(f *fixture) func() *bpfsigned.Object {
		return func() *bpfsigned.Object { return f.object(t, f.obj, f.manifest, f.key) }
	}
	editPlan := func(f *fixture, from, to string) func() *bpfsigned.Object {
		return func() *bpfsigned.Object {
			o := f.object(t, f.obj, f.manifest, f.key)
			p := bytes.Replace(o.Plan, []byte(from), []byte(to), 1)
			if bytes.Equal(p, o.Plan) {
				t.Fatalf("plan %s has no %q", o.Plan, from)
			}
			o.Plan = p
			return o
		}
	}
	editInsn := func(prog string) func(t *testing.T, spec *ebpf.CollectionSpec) {
		return func(t *testing.T, spec *ebpf.CollectionSpec) {
			p := spec.Programs[prog]
			for i, ins := range p.Instructions {
				if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource {
					p.Instructions[i].Constant ^= 1
					return
				}
			}
			t.Fatal("no instruction to edit")
		}
	}
	slot := func(mapName string, edit func(c []ebpf.MapKV) []ebpf.MapKV) func(t *testing.T, spec *ebpf.CollectionSpec) {
		return func(t *testing.T, spec *ebpf.CollectionSpec) {
			ms := spec.Maps[mapName]
			ms.Contents = edit(slices.Clone(ms.Contents))
		}
	}
	withMap := func(spec *ebpf.MapSpec) func(t *testing.T) *ebpf.CollectionOptions {
		return func(t *testing.T) *ebpf.CollectionOptions {
			m, err := ebpf.NewMap(spec)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{spec.Name: m}}
		}
	}

	tests := []struct {
		name   string
		obj    func() *bpfsigned.Object
		hook   func(t *testing.T, spec *ebpf.CollectionSpec)
		params map[string]any
		opts   func(t *testing.T) *ebpf.CollectionOptions
		// want is what the failure must mention.
		want string
	}{
		{name: "edited instruction", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			p := spec.Programs["sealed_filter"]
			for i, ins := range p.Instructions {
				if ins.OpCode.Class().IsALU() && ins.OpCode.ALUOp() == asm.Mov && ins.OpCode.Source() == asm.ImmSource {
					p.Instructions[i].Constant ^= 1
					return
				}
			}
			t.Fatal("no instruction to edit")
		}, want: "tag(" + testutil.TagAlgorithm(t) + ")"},
		{name: "edited .rodata byte", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			// The loader writes .rodata from the variables' bytes.
			v := spec.Variables["max_len"]
			v.Value = bytes.Clone(v.Value)
			v.Value[len(v.Value)-1] ^= 1
		}, want: "maps[2](.rodata).content.hash"},
		{name: "undeclared read-only variable rewritten", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			if err := spec.Variables["max_len"].Set(uint32(9000)); err != nil {
				t.Fatal(err)
			}
		}, want: "maps[2](.rodata).content.hash"},
		{name: "undeclared variable passed as a parameter", params: map[string]any{"max_len": uint32(9000)}, want: `"max_len" is not a parameter`},
		{name: "sealed map contents changed", obj: func() *bpfsigned.Object {
			o := good()
			o.Plan = bytes.Replace(o.Plan, []byte(`"value_hex": "01000000bb0101`), []byte(`"value_hex": "00000000bb0101`), 1)
			if bytes.Equal(o.Plan, good().Plan) {
				t.Fatal("plan not changed")
			}
			return o
		}, want: "maps[0](config).content.hash"},
		{name: "sealed map unsealed", obj: func() *bpfsigned.Object {
			o := good()
			o.Plan = []byte(`{"version":1,"sealed":["config"],"params":["mode"],"contents":{}}`)
			return o
		}, want: "maps[1](ports).frozen"},
		{name: "sealed map swapped through MapReplacements", opts: func(t *testing.T) *ebpf.CollectionOptions {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 10, MaxEntries: 4, Flags: 0x80})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"config": m}}
		}, want: "sealed map cannot be replaced"},
		{name: "unsealed map swapped for another descriptor", opts: func(t *testing.T) *ebpf.CollectionOptions {
			m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 64})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"hits": m}}
		}, want: "hits"},
		{name: "map max_entries changed", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			spec.Maps["hits"].MaxEntries = 3
		}, want: "maps[3](hits).max_entries"},
		{name: "program renamed", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			p := spec.Programs["sealed_filter"]
			delete(spec.Programs, "sealed_filter")
			p.Name = "sealed_filtex"
			spec.Programs["sealed_filtex"] = p
		}, want: "program sealed_filtex is not in it"},
		{name: "program added", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			p := spec.Programs["sealed_filter"].Copy()
			p.Name = "extra"
			spec.Programs["extra"] = p
		}, want: "program extra is not in it"},
		{name: "program type changed", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			spec.Programs["sealed_filter"].Type = ebpf.SchedCLS
		}, want: "type: expected"},
		{name: "expected attach type changed", hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			// The object says AttachXDP (37).
			spec.Programs["sealed_filter"].AttachType = ebpf.AttachNone
		}, want: "attach_type"},
		{name: "edited manifest", obj: func() *bpfsigned.Object {
			return editEnvelope(func(e map[string]any) {
				p, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
				p = bytes.Replace(p, []byte(`"max_entries":2`), []byte(`"max_entries":3`), 1)
				e["payload"] = base64.StdEncoding.EncodeToString(p)
			})
		}, want: "no signature verifies with a trusted key"},
		{name: "edited signature", obj: func() *bpfsigned.Object {
			return editEnvelope(func(e map[string]any) {
				sig := e["signatures"].([]any)[0].(map[string]any)
				raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
				raw[len(raw)/2] ^= 1
				sig["sig"] = base64.StdEncoding.EncodeToString(raw)
			})
		}, want: "no signature verifies with a trusted key"},
		{name: "signed by an untrusted key", obj: func() *bpfsigned.Object { return f.object(t, f.obj, f.manifest, other) }, want: "no signature verifies with a trusted key"},
		{name: "envelope for another object", obj: func() *bpfsigned.Object {
			o := good()
			o.Envelope = f.object(t, otherStatementObj, f.manifest, f.key).Envelope
			return o
		}, want: "envelope is for another object"},
		{name: "truncated envelope", obj: func() *bpfsigned.Object {
			o := good()
			o.Envelope = o.Envelope[:len(o.Envelope)/3]
			return o
		}, want: "malformed envelope"},
		{name: "empty envelope", obj: func() *bpfsigned.Object {
			o := good()
			o.Envelope = nil
			return o
		}, want: "malformed envelope"},
		{name: "unsigned placeholder", obj: func() *bpfsigned.Object { return f.object(t, f.obj, f.manifest, nil) }, want: "UNSIGNED"},

		// Tail calls: the slots of a sealed program array are code.
		{name: "program array slot holds another program of the object", obj: signedBy(tail), hook: slot("jmp", func(c []ebpf.MapKV) []ebpf.MapKV {
			c[0].Value = "tail_b"
			return c
		}), want: "jmp).slots[00000000]"},
		{name: "program array slot left empty", obj: signedBy(tail), hook: slot("jmp", func(c []ebpf.MapKV) []ebpf.MapKV { return c[:1] }), want: "slots[01000000]: expected program tail_b"},
		{name: "program array slot added", obj: signedBy(tail), hook: slot("jmp", func(c []ebpf.MapKV) []ebpf.MapKV {
			return append(c, ebpf.MapKV{Key: uint32(3), Value: "tail_entry"})
		}), want: "slots[03000000]: expected empty"},
		{name: "tail-called program edited", obj: signedBy(tail), hook: editInsn("tail_b"), want: "tail_calls[id"},
		{name: "tail-called program's read-only input changed", obj: signedBy(tail), hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			if err := spec.Variables["verdict_b"].Set(uint32(1)); err != nil {
				t.Fatal(err)
			}
		}, want: "(.rodata).content.hash"},
		{name: "program array swapped through MapReplacements", obj: signedBy(tail), opts: withMap(&ebpf.MapSpec{Name: "jmp", Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4}), want: "sealed map cannot be replaced"},
		{name: "program array left unfrozen (plan edited)", obj: editPlan(tail, `"jmp"`, `"calls"`), want: "sealing plan"},
		{name: "open program array under the default policy", obj: signedBy(open), want: "tail-call targets not bound"},
		{name: "device maps held by a map of maps under the default policy", obj: signedBy(mimDevmap), want: "programs attached to the entries of its inner maps"},
		// Which map an instruction loads: min_len (.rodata+8, frozen) read
		// from the writable .data+0 (packets_seen) instead.
		{name: "sealed variable read from a writable map", obj: signedBy(globals), hook: retarget(".rodata", 8, ".data", 0), want: "map_loads"},
		{name: "sealed variable read at another offset", obj: signedBy(globals), hook: retarget(".rodata", 8, ".rodata", 0), want: "map_loads"},

		// Maps of maps: a sealed map reached only through a slot.
		{name: "sealed inner map contents changed", obj: editPlan(mim, `"value_hex": "01000000"`, `"value_hex": "02000000"`), want: "policies).slots[00000000](map id"},
		{name: "look-alike map in the sealed map's slot", obj: signedBy(mim), hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			spec.Maps["spare"].Flags |= sealmap.FlagRdonlyProg // the template's flags, so the kernel takes it
			spec.Maps["policies"].Contents = []ebpf.MapKV{{Key: uint32(0), Value: "spare"}, {Key: uint32(1), Value: "policy"}}
		}, want: `slots[00000000](map id`},
		{name: "look-alike map added in another slot", obj: signedBy(mim), hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			spec.Maps["spare"].Flags |= sealmap.FlagRdonlyProg
			spec.Maps["policies"].Contents = append(spec.Maps["policies"].Contents, ebpf.MapKV{Key: uint32(1), Value: "spare"})
		}, want: "slots[01000000]: expected empty"},
		{name: "inner map removed from the outer map", obj: signedBy(mim), hook: slot("policies", func(c []ebpf.MapKV) []ebpf.MapKV { return nil }), want: "map policy"},
		{name: "outer map swapped through MapReplacements", obj: signedBy(mim), opts: withMap(&ebpf.MapSpec{Name: "policies", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2,
			InnerMap: &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 2, Flags: sealmap.FlagRdonlyProg}}), want: "sealed map cannot be replaced"},
		{name: "inner-map template of an unsealed map of maps changed", obj: signedBy(mim), hook: func(t *testing.T, spec *ebpf.CollectionSpec) {
			spec.Maps["tenants"].InnerMap.MaxEntries = 2
		}, want: "maps[1](tenants).inner_template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good()
			if tt.obj != nil {
				o = tt.obj()
			}
			var opts *ebpf.CollectionOptions
			if tt.opts != nil {
				opts = tt.opts(t)
			}
			before := testutil.OpenFDs(t)
			var objs objects
			lo := &bpfsigned.LoadOptions{Collection: opts, Params: tt.params}
			var rep *bpfsigned.Report
			var err error
			if tt.hook != nil {
				rep, err = bpfsigned.LoadTampered(o, &objs, lo, func(spec *ebpf.CollectionSpec) { tt.hook(t, spec) })
			} else {
				rep, err = bpfsigned.Load(o, &objs, lo)
			}
			if err == nil {
				objs.Close()
				t.Fatalf("tampered load accepted: %s", rep)
			}
			var refused *bpfsigned.Error
			if errors.As(err, &refused) && (rep.Verdict == bpfsigned.OK || rep.Accepted) {
				t.Fatalf("refusal with verdict %s, accepted %v", rep.Verdict, rep.Accepted)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not mention %q:\n%v", tt.want, err)
			}
			// A refusal says what was expected, what was found and what to do.
			if refused != nil {
				for _, part := range []string{"what to do"} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("refusal does not say %q: %v", part, err)
					}
				}
				for _, p := range rep.Programs {
					for _, m := range p.Mismatches {
						if !strings.Contains(err.Error(), "expected "+m.Expected+", found "+m.Found) {
							t.Errorf("refusal does not show expected and found for %s: %v", m.Field, err)
						}
					}
				}
			}
			if objs.Filter != nil || objs.Hits != nil {
				t.Error("objects handed out after a failed load")
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds open before, %d after", before, after)
			}
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d attacks", len(tests))
	}
}

// TestProgramArrayMustBeHeld: a verified load into a struct without the
// program array is refused (the kernel would empty the array when the
// loader closes it), with nothing left open.
func TestProgramArrayMustBeHeld(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixtureFor(t, "tailcall_bpfel.o", sealmap.Config{})
	var objs struct {
		Entry *ebpf.Program `ebpf:"tail_entry"`
	}
	before := testutil.OpenFDs(t)
	_, err := bpfsigned.Load(f.object(t, f.obj, f.manifest, f.key), &objs, nil)
	if err == nil || !strings.Contains(err.Error(), "program array jmp is not in") || objs.Entry != nil {
		t.Fatalf("load without the program array: %v", err)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
}

// TestAssignFailureHandsOutNothing: an accepted load into a struct that
// names an object the collection lacks fails, and leaves the struct as it
// was: no field holds an object of the load (closed with it), none is
// left open.
func TestAssignFailureHandsOutNothing(t *testing.T) {
	testutil.RequireBPF(t)
	f := newFixture(t)
	var objs struct {
		objects
		Missing *ebpf.Program `ebpf:"no_such_program"`
	}
	before := testutil.OpenFDs(t)
	rep, err := bpfsigned.Load(f.object(t, f.obj, f.manifest, f.key), &objs, nil)
	if err == nil || !strings.Contains(err.Error(), "no_such_program") {
		objs.Close()
		t.Fatalf("load into a struct naming a missing program: %v", err)
	}
	if rep == nil || rep.Verdict != bpfsigned.OK {
		t.Fatalf("the measurement itself should pass: %v", rep)
	}
	if objs.Filter != nil || objs.Hits != nil || objs.Missing != nil {
		t.Errorf("failed load left objects in the struct: filter %v hits %v", objs.Filter, objs.Hits)
	}
	if after := testutil.OpenFDs(t); after != before {
		t.Errorf("%d fds open before, %d after", before, after)
	}
}
