//go:build ignore

// Table prints the results of scripts/vm/test-kernels: one row per job
// (package tests, race runs, make demo), one column per kernel, each cell
// pass/fail/skip counts of tests and subtests and the job's duration. Then
// every failure with its output, and every skip with its reason. It exits
// 1 when a job failed or did not run, or when a test skipped for a reason
// other than a kernel feature listed in DIR/LABEL/allow-skip (the skip
// message of internal/testutil.SkipWithout carries "[kernel-feature:NAME]").
//
//	go run scripts/vm/table.go -out DIR LABEL=PACKAGE...
//
// DIR holds plan.all (the jobs, in row order) and one directory per LABEL
// written by scripts/vm/suite inside that kernel's VM.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// event is one line of go test -json (test2json) output.
type event struct {
	Action string
	Test   string
	Output string
}

type test struct {
	name   string
	action string // pass, fail, skip; "" while running
	output []string
}

type cell struct {
	ran               bool
	status            int
	seconds           string
	json              bool
	pass, fail, skip  int
	fuzzPass, fuzzAll int
	tests             []*test // in order of first appearance
	pkgOutput         []string
	stderr            string
	badSkips          []*test
}

func (c *cell) failed() bool {
	return !c.ran || c.status != 0 || c.fail > 0 || len(c.badSkips) > 0
}

// hostOnlyTag is internal/testutil.HostOnlyTag.
const hostOnlyTag = "[host-only]"

var featureRE = regexp.MustCompile(`\[kernel-feature:([a-z0-9-]+)\]`)

func fileName(job string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, job)
}

func readCell(dir, job string, allow []string) *cell {
	base := filepath.Join(dir, fileName(job))
	c := &cell{}
	st, err := os.ReadFile(base + ".status")
	if err != nil {
		return c
	}
	c.ran = true
	c.status, _ = strconv.Atoi(strings.TrimSpace(string(st)))
	if s, err := os.ReadFile(base + ".seconds"); err == nil {
		c.seconds = strings.TrimSpace(string(s)) + "s"
	}
	if e, err := os.ReadFile(base + ".err"); err == nil {
		c.stderr = string(e)
	}
	out, _ := os.ReadFile(base + ".out")
	c.json = bytes.HasPrefix(out, []byte("{"))
	if !c.json {
		c.pkgOutput = strings.SplitAfter(string(out), "\n")
		return c
	}
	byName := map[string]*test{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			c.pkgOutput = append(c.pkgOutput, sc.Text()+"\n")
			continue
		}
		if ev.Test == "" {
			if ev.Action == "output" {
				c.pkgOutput = append(c.pkgOutput, ev.Output)
			}
			continue
		}
		t := byName[ev.Test]
		if t == nil {
			t = &test{name: ev.Test}
			byName[ev.Test] = t
			c.tests = append(c.tests, t)
		}
		switch ev.Action {
		case "output":
			t.output = append(t.output, ev.Output)
		case "pass", "fail", "skip":
			t.action = ev.Action
		}
	}
	for _, t := range c.tests {
		switch t.action {
		case "pass":
			c.pass++
		case "fail", "":
			c.fail++
		case "skip":
			c.skip++
			out := strings.Join(t.output, "")
			if strings.Contains(out, hostOnlyTag) || strings.Contains(out, "[kernel-has:") {
				// Kernel-independent, run on the host (testutil.HostOnly),
				// or written for kernels without a feature this one has
				// (testutil.SkipWithFeature).
				continue
			}
			m := featureRE.FindStringSubmatch(out)
			if m == nil || !slices.Contains(allow, m[1]) {
				c.badSkips = append(c.badSkips, t)
			}
		}
		if strings.HasPrefix(t.name, "Fuzz") && !strings.Contains(t.name, "/") {
			c.fuzzAll++
			if t.action == "pass" {
				c.fuzzPass++
			}
		}
	}
	return c
}

func (c *cell) String() string {
	switch {
	case !c.ran:
		return "NOT RUN"
	case !c.json && c.status == 0:
		return "ok " + c.seconds
	case !c.json:
		return fmt.Sprintf("FAIL(exit %d) %s", c.status, c.seconds)
	}
	s := fmt.Sprintf("%d/%d/%d %s", c.pass, c.fail, c.skip, c.seconds)
	if c.failed() {
		s = "FAIL " + s
	}
	return s
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines]\n", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "")
}

func reason(t *test) string {
	var r []string
	for _, l := range t.output {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "=== ") && !strings.HasPrefix(s, "--- ") {
			r = append(r, s)
		}
	}
	return strings.Join(r, " ")
}

func main() {
	out := flag.String("out", ".test-kernels", "results directory of scripts/vm/test-kernels")
	flag.Parse()
	type kernel struct {
		label, pkg, dir, vmStatus, vmSeconds string
		allow                                []string
	}
	var kernels []kernel
	for _, arg := range flag.Args() {
		label, pkg, _ := strings.Cut(arg, "=")
		dir := filepath.Join(*out, label)
		st, _ := os.ReadFile(filepath.Join(dir, "vm.status"))
		secs, _ := os.ReadFile(filepath.Join(dir, "vm.seconds"))
		al, _ := os.ReadFile(filepath.Join(dir, "allow-skip"))
		var allow []string
		for _, a := range strings.Split(string(al), ",") {
			if a = strings.TrimSpace(a); a != "" {
				allow = append(allow, a)
			}
		}
		kernels = append(kernels, kernel{label, pkg, dir, strings.TrimSpace(string(st)), strings.TrimSpace(string(secs)), allow})
	}
	plan, err := os.ReadFile(filepath.Join(*out, "plan.all"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(2)
	}
	var jobs []string
	for _, l := range strings.Split(strings.TrimSpace(string(plan)), "\n") {
		name, _, _ := strings.Cut(l, "\t")
		jobs = append(jobs, name)
	}

	cells := make([][]*cell, len(jobs))
	bad := false
	width := len("fuzz seeds")
	for i, job := range jobs {
		width = max(width, len(job))
		for _, k := range kernels {
			c := readCell(k.dir, job, k.allow)
			cells[i] = append(cells[i], c)
			bad = bad || c.failed()
		}
	}
	cols := make([]int, len(kernels))
	for j, k := range kernels {
		cols[j] = max(len(k.pkg), len(k.label)+10)
		for i := range jobs {
			cols[j] = max(cols[j], len(cells[i][j].String()))
		}
	}

	fmt.Println()
	fmt.Printf("Tests on each kernel: pass/fail/skip (tests and subtests), duration inside the VM\n\n")
	fmt.Printf("%-*s", width, "")
	for j, k := range kernels {
		fmt.Printf("  %-*s", cols[j], k.pkg)
	}
	fmt.Printf("\n%s", strings.Repeat("-", width))
	for j := range kernels {
		fmt.Printf("  %s", strings.Repeat("-", cols[j]))
	}
	fmt.Println()
	for i, job := range jobs {
		fmt.Printf("%-*s", width, job)
		for j := range kernels {
			fmt.Printf("  %-*s", cols[j], cells[i][j])
		}
		fmt.Println()
	}
	fmt.Printf("%-*s", width, "fuzz seeds")
	for j := range kernels {
		p, a := 0, 0
		for i := range jobs {
			if !strings.HasPrefix(jobs[i], "race ") {
				p += cells[i][j].fuzzPass
				a += cells[i][j].fuzzAll
			}
		}
		fmt.Printf("  %-*s", cols[j], fmt.Sprintf("%d/%d targets pass", p, a))
	}
	fmt.Printf("\n%-*s", width, "VM (boot to power-off)")
	for j, k := range kernels {
		s := k.vmSeconds + "s"
		if k.vmStatus != "0" {
			s = fmt.Sprintf("FAIL(exit %s) %s", k.vmStatus, s)
			bad = true
		}
		fmt.Printf("  %-*s", cols[j], s)
	}
	fmt.Println()

	for j, k := range kernels {
		for i, job := range jobs {
			c := cells[i][j]
			if !c.failed() {
				continue
			}
			fmt.Printf("\n=== FAIL %s on %s", job, k.pkg)
			if !c.ran {
				fmt.Printf(": did not run (see %s)\n", filepath.Join(k.dir, "console.log"))
				continue
			}
			fmt.Printf(" (exit %d)\n", c.status)
			shown := 0
			for _, t := range c.tests {
				if t.action == "fail" || t.action == "" {
					fmt.Print(tail(t.output, 40))
					shown++
				}
			}
			for _, t := range c.badSkips {
				fmt.Printf("skip not allowed (only for a kernel feature this kernel lacks: %s): %s: %s\n", strings.Join(k.allow, ","), t.name, reason(t))
				shown++
			}
			if shown == 0 || !c.json {
				fmt.Print(tail(c.pkgOutput, 40))
			}
			if c.stderr != "" {
				fmt.Print(tail(strings.SplitAfter(c.stderr, "\n"), 20))
			}
		}
	}
	first := true
	for j, k := range kernels {
		for i, job := range jobs {
			for _, t := range cells[i][j].tests {
				if t.action != "skip" {
					continue
				}
				if first {
					fmt.Printf("\nSkipped:\n")
					first = false
				}
				fmt.Printf("  %s %s %s: %s\n", k.label, job, t.name, reason(t))
			}
		}
	}
	if bad {
		fmt.Println("\ntest-kernels: FAIL")
		os.Exit(1)
	}
	fmt.Println("\ntest-kernels: ok")
}
