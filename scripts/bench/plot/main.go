// Command plot draws how load and audit costs grow, as SVG, from the
// output of BenchmarkGrowth (runtime) and BenchmarkAudit (audit): the
// median ns/op of every benchmark over all runs given, one panel per
// curve family.
//
//	go run ./scripts/bench/plot -o docs/growth.svg growth.txt audit.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// line matches "BenchmarkX/a=1/b=2/series-2   10   123 ns/op".
var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

type point struct{ x, y float64 }

// panel is one chart: the benchmarks whose name matches want, x from the
// parameter named xKey, one curve per last name element.
type panel struct {
	title, xLabel string
	match         func(name string) bool
	xKey          string
	series        map[string][]point
}

func main() {
	out := flag.String("o", "docs/growth.svg", "SVG file to write")
	flag.Parse()
	samples := map[string][]float64{}
	var order []string
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fail(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
			if m == nil {
				continue
			}
			v, _ := strconv.ParseFloat(m[2], 64)
			if _, seen := samples[m[1]]; !seen {
				order = append(order, m[1])
			}
			samples[m[1]] = append(samples[m[1]], v)
		}
		f.Close()
	}
	panels := []*panel{
		{title: "Load vs programs in the object (1 map)", xLabel: "programs", xKey: "progs",
			match: func(n string) bool {
				return strings.HasPrefix(n, "BenchmarkGrowth/") && strings.Contains(n, "/maps=1/")
			}},
		{title: "Load vs maps in the object (8 programs)", xLabel: "maps", xKey: "maps",
			match: func(n string) bool { return strings.HasPrefix(n, "BenchmarkGrowth/progs=8/") }},
		{title: "Audit vs programs loaded", xLabel: "programs loaded", xKey: "N",
			match: func(n string) bool {
				return strings.HasPrefix(n, "BenchmarkAudit/") && !strings.HasSuffix(n, "/interleaved")
			}},
	}
	for _, name := range order {
		parts := strings.Split(name, "/")
		series := parts[len(parts)-1]
		for _, p := range panels {
			if !p.match(name) {
				continue
			}
			for _, part := range parts {
				if v, ok := strings.CutPrefix(part, p.xKey+"="); ok {
					x, err := strconv.ParseFloat(v, 64)
					if err != nil {
						fail(err)
					}
					if p.series == nil {
						p.series = map[string][]point{}
					}
					p.series[series] = append(p.series[series], point{x, median(samples[name])})
				}
			}
		}
	}
	var svg strings.Builder
	const w, h = 420, 300
	fmt.Fprintf(&svg, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w*len(panels), h)
	for i, p := range panels {
		drawPanel(&svg, p, float64(i*w), w, h)
	}
	svg.WriteString("</svg>\n")
	if err := os.WriteFile(*out, []byte(svg.String()), 0o644); err != nil {
		fail(err)
	}
}

var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// drawPanel draws p with log-scaled x and y axes in the box at x0.
func drawPanel(s *strings.Builder, p *panel, x0, w, h float64) {
	const left, right, top, bottom = 60, 15, 30, 45
	fmt.Fprintf(s, `<text x="%.0f" y="18" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x0+w/2, p.title)
	if len(p.series) == 0 {
		fmt.Fprintf(s, `<text x="%.0f" y="%.0f" text-anchor="middle">no data</text>`+"\n", x0+w/2, h/2)
		return
	}
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, pts := range p.series {
		for _, pt := range pts {
			minX, maxX = math.Min(minX, pt.x), math.Max(maxX, pt.x)
			minY, maxY = math.Min(minY, pt.y), math.Max(maxY, pt.y)
		}
	}
	lx := func(v float64) float64 { return math.Log10(v) }
	loY, hiY := math.Floor(lx(minY)), math.Ceil(lx(maxY))
	if hiY == loY {
		hiY++
	}
	loX, hiX := lx(minX), lx(maxX)
	if hiX == loX {
		hiX++
	}
	px := func(v float64) float64 { return x0 + left + (lx(v)-loX)/(hiX-loX)*(w-left-right) }
	py := func(v float64) float64 { return top + (hiY-lx(v))/(hiY-loY)*(h-top-bottom) }
	fmt.Fprintf(s, `<rect x="%.0f" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", x0+left, top, w-left-right, h-top-bottom)
	for e := loY; e <= hiY; e++ {
		y := py(math.Pow(10, e))
		fmt.Fprintf(s, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0+left, x0+w-right, y, y, x0+left-4, y+4, duration(math.Pow(10, e)))
	}
	var xs []float64
	for _, pts := range p.series {
		for _, pt := range pts {
			if !slices.Contains(xs, pt.x) {
				xs = append(xs, pt.x)
			}
		}
	}
	for _, x := range xs {
		fmt.Fprintf(s, `<text x="%.1f" y="%.0f" text-anchor="middle">%g</text>`+"\n", px(x), h-bottom+14, x)
	}
	fmt.Fprintf(s, `<text x="%.0f" y="%.0f" text-anchor="middle">%s (log scale; time per op, log scale)</text>`+"\n", x0+left+(w-left-right)/2, h-8, p.xLabel)
	names := make([]string, 0, len(p.series))
	for name := range p.series {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		pts := p.series[name]
		slices.SortFunc(pts, func(a, b point) int { return int(math.Copysign(1, a.x-b.x)) })
		c := colors[i%len(colors)]
		var path strings.Builder
		for j, pt := range pts {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, px(pt.x), py(pt.y))
			fmt.Fprintf(s, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %g: %s</title></circle>`+"\n", px(pt.x), py(pt.y), c, name, pt.x, duration(pt.y))
		}
		fmt.Fprintf(s, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", path.String(), c)
		fmt.Fprintf(s, `<text x="%.0f" y="%d" fill="%s">%s</text>`+"\n", x0+left+8, top+14+14*i, c, name)
	}
}

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%gs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%gµs", ns/1e3)
	}
	return fmt.Sprintf("%gns", ns)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "plot:", err)
	os.Exit(1)
}
