//go:build kms_azure || kms_all

package signing

// Links the azure KMS provider into binaries built with -tags kms_azure.
import _ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
