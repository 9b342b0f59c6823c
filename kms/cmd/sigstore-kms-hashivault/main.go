// Command sigstore-kms-hashivault is a sigstore KMS plugin for hashivault:// keys
// (sigstore's hashivault provider). With it on the PATH, bpf2go-signed (and
// cosign) sign with --key hashivault://...; see the README of
// github.com/bpf2go-signed/bpf2go-signed, "Cloud KMS keys".
package main

import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"

	"github.com/bpf2go-signed/bpf2go-signed/kms/plugin"
)

func main() { plugin.Main("hashivault") }
