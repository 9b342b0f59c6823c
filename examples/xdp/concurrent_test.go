package main

import (
	"sync"
	"testing"

	"github.com/bpf2go-signed/bpf2go-signed/internal/testutil"
	bpfsigned "github.com/bpf2go-signed/bpf2go-signed/runtime"
)

// TestConcurrentVerifiedLoads: 16 verified loads of the example at once,
// all OK.
func TestConcurrentVerifiedLoads(t *testing.T) {
	testutil.RequireBPF(t)
	var wg sync.WaitGroup
	verdicts := make(chan bpfsigned.Verdict, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var objs filterObjects
			rep, err := loadFilterObjectsVerifiedWithParams(&objs, nil, nil, &filterParams{Mode: uint32(i % 2)})
			if err != nil {
				t.Error(err)
				verdicts <- ""
				return
			}
			objs.Close()
			verdicts <- rep.Verdict
		}()
	}
	wg.Wait()
	close(verdicts)
	for v := range verdicts {
		if v != bpfsigned.OK {
			t.Errorf("verdict %q", v)
		}
	}
}
