//go:build kms_gcp || kms_all

package signing

// Links the gcp KMS provider into binaries built with -tags kms_gcp.
import _ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
