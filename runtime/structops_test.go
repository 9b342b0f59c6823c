package runtime_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
	"github.com/bpf2go-signed/bpf2go-signed/sealmap/build"
	"github.com/bpf2go-signed/bpf2go-signed/signing"
)

type structOpsObjects struct {
	Ssthresh  *ebpf.Program `ebpf:"signed_ssthresh"`
	CongAvoid *ebpf.Program `ebpf:"signed_cong_avoid"`
	UndoCwnd  *ebpf.Program `ebpf:"signed_undo_cwnd"`
	SignedCc  *ebpf.Map     `ebpf:"signed_cc"`
}

func (o *structOpsObjects) Close() {
	for _, c := range []interface{ Close() error }{o.Ssthresh, o.CongAvoid, o.UndoCwnd, o.SignedCc} {
		if c != nil {
			c.Close()
		}
	}
}

// TestStructOps: a struct_ops object (programs only in struct_ops
// sections, a .struct_ops.link map) loads OK; its map is part of the
// measurement: a function member holding another of the object's
// programs, or a data member with other bytes, is BADSIG, naming the
// member; every refused load closes what it opened.
func TestStructOps(t *testing.T) {
	testutil.RequireBPF(t)
	testutil.RequireStructOpsLink(t, "tcp_congestion_ops")
	obj, err := os.ReadFile(testutil.Testdata("structops_bpfel.o"))
	if err != nil {
		t.Fatal(err)
	}
	m, plan, _, err := build.Measure(obj, build.Source{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.StructOps) != 1 || m.StructOps[0].Type != "tcp_congestion_ops" {
		t.Fatalf("struct_ops measured: %+v", m.StructOps)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := signing.FromPrivateKey(key)
	env, err := s.Sign(context.Background(), attest.NewStatement("structops_bpfel.o", obj, m))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := attest.MarshalPublicKey(key.Public())
	o := &bpfsigned.Object{Name: "structops_bpfel.o", ELF: obj, Envelope: env, Plan: plan.Encode(), TrustedKeys: []string{string(pub)}}

	tests := []struct {
		name   string
		tamper func(*ebpf.CollectionSpec)
		field  string
	}{
		{"as signed", nil, ""},
		{"programs swapped between members", func(spec *ebpf.CollectionSpec) {
			a, b := spec.Programs["signed_ssthresh"], spec.Programs["signed_undo_cwnd"]
			a.AttachTo, b.AttachTo = b.AttachTo, a.AttachTo
		}, "struct_ops(signed_cc).ssthresh"},
		{"data member changed", func(spec *ebpf.CollectionSpec) {
			v := spec.Maps["signed_cc"].Contents[0].Value.([]byte)
			v[len(v)-16] = 'X' // the first byte of name
		}, "struct_ops(signed_cc).name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFDs(t)
			var objs structOpsObjects
			var rep *bpfsigned.Report
			var err error
			if tt.tamper != nil {
				rep, err = bpfsigned.LoadTampered(o, &objs, nil, tt.tamper)
			} else {
				rep, err = bpfsigned.Load(o, &objs, nil)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				defer objs.Close()
				if rep.Verdict != bpfsigned.OK || len(rep.StructOps) != 1 || rep.StructOps[0].Verdict != bpfsigned.OK || rep.StructOps[0].ID == 0 {
					t.Fatalf("report %s", rep)
				}
				if again, err := bpfsigned.Recheck(&objs, rep); err != nil || len(again.StructOps) != 1 || again.Verdict != bpfsigned.OK {
					t.Fatalf("recheck: %v %v", again, err)
				}
				return
			}
			var refused *bpfsigned.Error
			if !errors.As(err, &refused) || rep.Verdict != bpfsigned.BadSig {
				objs.Close()
				t.Fatalf("tampered load: %v, report %v", err, rep)
			}
			found := false
			for _, so := range rep.StructOps {
				for _, m := range so.Mismatches {
					found = found || m.Field == tt.field
				}
			}
			if !found || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("mismatches do not name %s: %v", tt.field, err)
			}
			if objs.SignedCc != nil || objs.Ssthresh != nil {
				t.Error("refused load handed out objects")
			}
			if after := testutil.OpenFDs(t); after != before {
				t.Errorf("%d fds before, %d after", before, after)
			}
		})
	}
}
