//go:build kms_hashivault || kms_all

package signing

// Links the hashivault KMS provider into binaries built with -tags kms_hashivault.
import _ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
