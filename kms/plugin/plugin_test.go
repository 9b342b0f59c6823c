package plugin_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/bpf2go-signed/bpf2go-signed/kms/plugin"
)

// The test binary doubles as the plugin sigstore-kms-filekms: a provider
// whose keys are PEM files, registered only in the plugin process, so that
// the test process reaches it through sigstore's plugin mechanism.
const pluginEnv = "BPF2GO_SIGNED_TEST_KMS_PLUGIN"

func TestMain(m *testing.M) {
	if os.Getenv(pluginEnv) == "1" {
		kms.AddProvider("filekms://", loadFileKey)
		plugin.Main("filekms")
		return
	}
	os.Exit(m.Run())
}

// fileKey is a kms.SignerVerifier over a PEM private key file.
type fileKey struct {
	signature.SignerVerifier
	hash crypto.Hash
}

func loadFileKey(_ context.Context, ref string, hash crypto.Hash, _ ...signature.RPCOption) (kms.SignerVerifier, error) {
	path := strings.TrimPrefix(ref, "filekms://")
	sv, err := signature.LoadSignerVerifierFromPEMFile(path, hash, cryptoutils.SkipPassword)
	if err != nil {
		return nil, err
	}
	return &fileKey{SignerVerifier: sv, hash: hash}, nil
}

func (k *fileKey) CreateKey(context.Context, string) (crypto.PublicKey, error) {
	return k.PublicKey()
}

func (k *fileKey) CryptoSigner(context.Context, func(error)) (crypto.Signer, crypto.SignerOpts, error) {
	return nil, nil, errors.New("filekms: no crypto.Signer")
}

func (k *fileKey) SupportedAlgorithms() []string { return []string{"ecdsa-p256-sha256"} }
func (k *fileKey) DefaultAlgorithm() string      { return "ecdsa-p256-sha256" }

// pluginPath puts the test binary on PATH as sigstore-kms-filekms.
func pluginPath(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, "sigstore-kms-filekms")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(pluginEnv, "1")
}

// TestPluginSigns: a key reference whose provider is not linked reaches
// the plugin, which signs with the provider; the signature verifies with
// the key's public key. A key the provider cannot load is an error that
// names the cause.
func TestPluginSigns(t *testing.T) {
	pluginPath(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := cryptoutils.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sv, err := kms.Get(ctx, "filekms://"+path, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		t.Fatalf("public key through the plugin: %v", err)
	}
	if !key.PublicKey.Equal(pub) {
		t.Fatal("the plugin returned another public key")
	}
	msg := []byte("measurement")
	sig, err := sv.SignMessage(bytes.NewReader(msg), options.WithContext(ctx))
	if err != nil {
		t.Fatalf("sign through the plugin: %v", err)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Fatal("the plugin's signature does not verify")
	}
	// Refusals: a missing key file, and a tampered message.
	bad, err := kms.Get(ctx, "filekms://"+path+".missing", crypto.SHA256)
	if err == nil {
		_, err = bad.PublicKey(options.WithContext(ctx))
	}
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing key: %v", err)
	}
	if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader([]byte("other")), options.WithContext(ctx)); err == nil {
		t.Error("the plugin verified a signature over another message")
	}
}

// TestServeByHand: run without the protocol's arguments, the plugin says
// what it is for.
func TestServeByHand(t *testing.T) {
	var out bytes.Buffer
	if err := plugin.Serve("awskms", []string{"sigstore-kms-awskms"}, nil, &out); err == nil || !strings.Contains(err.Error(), "run by sigstore") {
		t.Errorf("no arguments: %v", err)
	}
	if err := plugin.Serve("awskms", []string{"sigstore-kms-awskms", "-h"}, nil, &out); err != nil || !strings.Contains(out.String(), "--key awskms://") {
		t.Errorf("-h: %v %q", err, out.String())
	}
}
