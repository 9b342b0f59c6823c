// Command sigstore-kms-azurekms is a sigstore KMS plugin for azurekms:// keys
// (sigstore's azure provider). With it on the PATH, bpf2go-signed (and
// cosign) sign with --key azurekms://...; see the README of
// github.com/bpf2go-signed/bpf2go-signed, "Cloud KMS keys".
package main

import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"

	"github.com/bpf2go-signed/bpf2go-signed/kms/plugin"
)

func main() { plugin.Main("azurekms") }
