package gen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// makeRule is one rule of a make dependency file: a target and what it
// depends on, as absolute paths.
type makeRule struct {
	target  string
	prereqs []string
}

// readMakeRules parses the dependency file clang writes with -MD -MP;
// relative paths are taken relative to dir. Backslash-newline continues a
// line.
func readMakeRules(dir string, r io.Reader) ([]makeRule, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var rules []makeRule
	var line strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		text := sc.Text()
		if line.Len()+len(text) > 1<<20 {
			return nil, errors.New("line too long")
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(cont)
			continue
		}
		line.WriteString(text)
		if line.Len() == 0 {
			continue
		}
		target, deps, ok := strings.Cut(line.String(), ":")
		if !ok {
			return nil, errors.New("invalid line without ':'")
		}
		rule := makeRule{target: abs(target)}
		for _, d := range strings.Fields(deps) {
			rule.prereqs = append(rule.prereqs, abs(d))
		}
		rules = append(rules, rule)
		line.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, errors.New("empty dependency file")
	}
	return rules, nil
}

// writeMakeRules writes rules with paths relative to base, in bpf2go's
// layout.
func writeMakeRules(w io.Writer, base string, rules []makeRule) error {
	for _, rule := range rules {
		target, err := filepath.Rel(base, rule.target)
		if err != nil {
			return err
		}
		if len(rule.prereqs) == 0 {
			if _, err := fmt.Fprintf(w, "%s:\n\n", target); err != nil {
				return err
			}
			continue
		}
		rel := make([]string, len(rule.prereqs))
		for i, p := range rule.prereqs {
			if rel[i], err = filepath.Rel(base, p); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "%s: \\\n %s\n\n", target, strings.Join(rel, " \\\n ")); err != nil {
			return err
		}
	}
	return nil
}
