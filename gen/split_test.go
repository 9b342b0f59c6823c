package gen

import (
	"slices"
	"testing"
)

func TestSplitQuoted(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"  -O2   -g ", []string{"-O2", "-g"}, false},
		{`-I"a b" c`, []string{"-Ia b", "c"}, false},
		{`'x y' "z"`, []string{"x y", "z"}, false},
		{`"" a`, []string{"", "a"}, false},
		{`'it"s'`, []string{`it"s`}, false},
		{`a\ b`, []string{"a b"}, false},
		{`"a"b`, []string{"a", "b"}, false},
		{`"unterminated`, nil, true},
		{`trailing\`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitQuoted(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("splitQuoted(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParse(t *testing.T) {
	env := func(m map[string]string) Env {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := Parse([]string{"-target", "bpfel", "-seal", "a", "-seal", "b", "-seal-contents", "a=a.json", "-param", "mode", "-trust-key", "k.pub", "-trust", "old.pub", "Bpf", "x.c", "--", "-DX=1"},
		env(map[string]string{"GOPACKAGE": "main", "BPF2GO_CC": "ccache clang-19", "BPF2GO_CFLAGS": `-O2 "-DY=a b"`, "GOFILE": "x_test.go"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.CC != "ccache" || !slices.Equal(c.CFlags, []string{"clang-19", "-O2", "-DY=a b", "-DX=1"}) {
		t.Errorf("cc %q cflags %q", c.CC, c.CFlags)
	}
	if c.OutputSuffix != "_test" || c.Package != "main" || c.Ident != "Bpf" || len(c.Targets) != 1 {
		t.Errorf("config %+v", c)
	}
	if !slices.Equal(c.Seal, []string{"a", "b"}) || c.SealContents["a"] != "a.json" || !slices.Equal(c.Params, []string{"mode"}) || !slices.Equal(c.Trust, []string{"k.pub", "old.pub"}) {
		t.Errorf("extras %+v", c)
	}

	bad := []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"Bpf", "x.c"}, nil},                          // no package
		{[]string{"Bpf"}, map[string]string{"GOPACKAGE": "p"}}, // one argument
		{[]string{"-target", "nope", "B", "x.c"}, map[string]string{"GOPACKAGE": "p"}},
		{[]string{"B", "x.c", "--", "-MD"}, map[string]string{"GOPACKAGE": "p"}},
		{[]string{"-seal-contents", "nofile", "B", "x.c"}, map[string]string{"GOPACKAGE": "p"}},
		{[]string{"-output-stem", "a/b", "B", "x.c"}, map[string]string{"GOPACKAGE": "p"}},
		{[]string{"-type", "a-b", "B", "x.c"}, map[string]string{"GOPACKAGE": "p"}},
		{[]string{"-cflags", `"open`, "B", "x.c"}, map[string]string{"GOPACKAGE": "p"}},
	}
	for _, b := range bad {
		if _, err := Parse(b.args, env(b.env), nil); err == nil {
			t.Errorf("Parse(%q) accepted", b.args)
		}
	}
}
