package gen

import (
	"errors"
	"fmt"
	"strings"
)

// splitAtDoubleDash splits positional arguments from C flags after "--".
func splitAtDoubleDash(in []string) (args, cflags []string) {
	for i, a := range in {
		if a == "--" {
			return in[:i], in[i+1:]
		}
	}
	return in, nil
}

// splitQuoted splits a -cflags string into words the way bpf2go does:
// spaces separate words, single or double quotes group them (an empty
// quoted word is kept), and a backslash escapes the next character.
func splitQuoted(in string) ([]string, error) {
	var words []string
	var cur strings.Builder
	quote := rune(0) // 0: not in quotes
	escape := false
	for _, r := range strings.TrimSpace(in) {
		switch {
		case escape:
			cur.WriteRune(r)
			escape = false
		case r == '\\':
			escape = true
		case quote != 0 && r == quote:
			words = append(words, cur.String())
			cur.Reset()
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote = r
		case r == ' ':
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("missing `%c`", quote)
	}
	if escape {
		return nil, errors.New("unfinished escape")
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words, nil
}
