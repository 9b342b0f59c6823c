// Package signing signs measurements: it loads private keys (cosign's
// encrypted format, PKCS #8/SEC 1/PKCS #1 PEM) and KMS keys through
// sigstore, generates cosign-compatible key pairs, and writes signed DSSE
// envelopes (package attest). It is for build machines and release
// pipelines; shipped binaries verify with package attest alone.
//
// No cloud KMS provider is linked: a KMS URI <scheme>://<key> is served by
// the sigstore KMS plugin sigstore-kms-<scheme> on the PATH (sigstore's
// cliplugin protocol). The nested module
// github.com/bpf2go-signed/bpf2go-signed/kms builds those plugins for
// awskms://, gcpkms://, azurekms:// and hashivault://, so that the cloud
// SDKs stay out of the go.mod of every module that uses the generator.
package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/bpf2go-signed/bpf2go-signed/attest"
	// Signing keys may be of every family: attest.CheckKey accepts those
	// whose packages are linked.
	_ "github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"
	_ "github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"
	"github.com/bpf2go-signed/bpf2go-signed/internal/safefs"
)

// KMSModule is the module whose commands are the KMS plugins for
// awskms://, gcpkms://, azurekms:// and hashivault:// keys.
const KMSModule = "github.com/bpf2go-signed/bpf2go-signed/kms"

// PasswordEnv is the environment variable holding the password of an
// encrypted private key, as for cosign.
const PasswordEnv = "COSIGN_PASSWORD"

// Errors of key loading.
var (
	// ErrPasswordRequired: the key is encrypted and no password was given.
	ErrPasswordRequired = errors.New("private key is encrypted and no password was given")
	// ErrWrongPassword: the password does not decrypt the key.
	ErrWrongPassword = errors.New("wrong password for the private key")
	// ErrUnknownKeyType: the file is not a private key this project reads.
	ErrUnknownKeyType = errors.New("unknown private key type")
)

const (
	encryptedSigstorePEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
	encryptedCosignPEM   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// Signer signs DSSE payloads with one key.
type Signer struct {
	s   signature.Signer
	pub crypto.PublicKey
	ref string
}

// Public returns the signer's public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Ref names the key: a file path or a KMS URI.
func (s *Signer) Ref() string { return s.ref }

// IsKMS reports whether a key reference is a KMS URI rather than a file.
func IsKMS(ref string) bool { return strings.Contains(ref, "://") }

// Password returns the password from COSIGN_PASSWORD: nil when it is unset,
// an empty (non-nil) slice when it is set and empty.
func Password() []byte {
	pw, ok := os.LookupEnv(PasswordEnv)
	if !ok {
		return nil
	}
	return append([]byte{}, pw...)
}

// Load returns the signer for a key reference: a KMS URI, or the path of a
// PEM private key. password decrypts encrypted keys; nil means none was
// given (see [Password]).
func Load(ctx context.Context, ref string, password []byte) (*Signer, error) {
	if IsKMS(ref) {
		sv, err := kms.Get(ctx, ref, attest.Hash)
		var notFound *kms.ProviderNotFoundError
		if errors.As(err, &notFound) {
			scheme, _, _ := strings.Cut(ref, "://")
			return nil, fmt.Errorf("KMS key %s: no sigstore KMS plugin sigstore-kms-%s on the PATH: install it, e.g. go install %s/cmd/sigstore-kms-%s@latest for the cloud KMSes (see README, Cloud KMS keys)", ref, scheme, KMSModule, scheme)
		}
		if err != nil {
			return nil, fmt.Errorf("KMS key %s: %w", ref, err)
		}
		pub, err := sv.PublicKey(options.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("KMS key %s: public key: %w", ref, err)
		}
		if err := attest.CheckKey(pub); err != nil {
			return nil, fmt.Errorf("KMS key %s: %w", ref, err)
		}
		return &Signer{s: sv, pub: pub, ref: ref}, nil
	}
	raw, err := safefs.ReadRegular(ref, MaxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return LoadPEM(ref, raw, password)
}

// MaxKeyFile is the largest key file read: 1 MiB (a PEM key is a few
// kilobytes).
const MaxKeyFile = 1 << 20

// LoadPEM returns the signer for a PEM private key already read from the
// file ref (see [ParsePrivateKey]).
func LoadPEM(ref string, raw, password []byte) (*Signer, error) {
	priv, err := ParsePrivateKey(raw, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", ref, err)
	}
	s, err := FromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", ref, err)
	}
	s.ref = ref
	return s, nil
}

// ParsePrivateKey reads a PEM private key: cosign's encrypted format
// (password required; an empty password is a valid one), or unencrypted
// PKCS #8, SEC 1 EC or PKCS #1 RSA.
func ParsePrivateKey(raw, password []byte) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrUnknownKeyType)
	}
	switch block.Type {
	case encryptedSigstorePEM, encryptedCosignPEM:
		if password == nil {
			return nil, fmt.Errorf("%w: set %s (an empty value is allowed)", ErrPasswordRequired, PasswordEnv)
		}
		priv, err := cryptoutils.UnmarshalPEMToPrivateKey(raw, cryptoutils.StaticPasswordFunc(password))
		if err != nil {
			return nil, fmt.Errorf("%w (%v); check %s", ErrWrongPassword, err, PasswordEnv)
		}
		return priv, nil
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		priv, err := cryptoutils.UnmarshalPEMToPrivateKey(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnknownKeyType, err)
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("%w: PEM block %q (want a cosign key or a PKCS #8 \"PRIVATE KEY\")", ErrUnknownKeyType, block.Type)
	}
}

// FromPrivateKey returns a signer for an in-memory private key.
func FromPrivateKey(priv crypto.PrivateKey) (*Signer, error) {
	cs, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrUnknownKeyType, priv)
	}
	if err := attest.CheckKey(cs.Public()); err != nil {
		return nil, err
	}
	s, err := signature.LoadSigner(priv, attest.Hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownKeyType, err)
	}
	return &Signer{s: s, pub: cs.Public()}, nil
}

// Sign returns the envelope of st signed by s.
func (s *Signer) Sign(ctx context.Context, st *attest.Statement) ([]byte, error) {
	payload, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	sig, err := s.s.SignMessage(bytes.NewReader(attest.PAE(attest.PayloadType, payload)), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", s.ref, err)
	}
	return attest.NewEnvelope(payload, sig)
}

// GenerateKeyPair returns a new ECDSA P-256 key pair in cosign's format:
// the private key encrypted with password (scrypt + secretbox, PEM
// "ENCRYPTED SIGSTORE PRIVATE KEY"), the public key as PEM "PUBLIC KEY".
// An empty password is allowed, as with cosign.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	if password == nil {
		password = []byte{}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt private key: %w", err)
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: encryptedSigstorePEM, Bytes: der})
	pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return privPEM, pubPEM, nil
}
