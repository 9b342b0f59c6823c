//go:build kms_aws || kms_all

package signing

// Links the aws KMS provider into binaries built with -tags kms_aws.
import _ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
