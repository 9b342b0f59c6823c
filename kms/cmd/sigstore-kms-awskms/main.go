// Command sigstore-kms-awskms is a sigstore KMS plugin for awskms:// keys
// (sigstore's aws provider). With it on the PATH, bpf2go-signed (and
// cosign) sign with --key awskms://...; see the README of
// github.com/bpf2go-signed/bpf2go-signed, "Cloud KMS keys".
package main

import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"

	"github.com/bpf2go-signed/bpf2go-signed/kms/plugin"
)

func main() { plugin.Main("awskms") }
