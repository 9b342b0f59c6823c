// Command sigstore-kms-gcpkms is a sigstore KMS plugin for gcpkms:// keys
// (sigstore's gcp provider). With it on the PATH, bpf2go-signed (and
// cosign) sign with --key gcpkms://...; see the README of
// github.com/bpf2go-signed/bpf2go-signed, "Cloud KMS keys".
package main

import (
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"

	"github.com/bpf2go-signed/bpf2go-signed/kms/plugin"
)

func main() { plugin.Main("gcpkms") }
