//go:build ignore

// loadonce_verified is the verified side of the whole-process benchmark
// (scripts/bench/procload): the generated verifying loader, one load,
// exit. It is built from this file, filter_bpfel.go and
// filter_bpfel_signed.go.
package main

import (
	"fmt"
	"os"
)

func main() {
	var objs filterObjects
	if _, err := loadFilterObjectsVerifiedWithParams(&objs, nil, nil, &filterParams{Mode: 0}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	objs.Close()
}
