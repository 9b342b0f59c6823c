// Package templates holds the Go templates of the code bpf2go-signed
// generates, embedded in the generator binary.
package templates

import (
	_ "embed"
	"text/template"
)

//go:embed loader.go.tpl
var loader string

// Loader renders <stem>_<target>_signed.go: the verifying loader next to
// bpf2go's output.
var Loader = template.Must(template.New("loader").Parse(loader))
