//go:build ignore

// loadonce_plain is the baseline of the whole-process benchmark
// (scripts/bench/procload): bpf2go's generated loader, one load, exit. It
// is built from this file and filter_bpfel.go only.
package main

import (
	"fmt"
	"os"
)

func main() {
	var objs filterObjects
	if err := loadFilterObjects(&objs, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	objs.Close()
}
