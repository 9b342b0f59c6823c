package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"
)

func testKeys(t *testing.T) map[string]crypto.PublicKey {
	t.Helper()
	out := map[string]crypto.PublicKey{}
	for name, c := range map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out["ecdsa "+name] = &k.PublicKey
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out["ed25519"] = pub
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out["rsa 2048"] = &rk.PublicKey
	return out
}

// TestPKIXMatchesX509: the key codec that keeps crypto/x509 out of shipped
// binaries reads and writes exactly what crypto/x509 does.
func TestPKIXMatchesX509(t *testing.T) {
	for name, k := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			want, err := x509.MarshalPKIXPublicKey(k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalPKIXPublicKey(k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("MarshalPKIXPublicKey = %x, crypto/x509 writes %x", got, want)
			}
			parsed, err := parsePKIXPublicKey(want)
			if err != nil {
				t.Fatal(err)
			}
			if !parsed.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) {
				t.Fatalf("parsed %v, want %v", parsed, k)
			}
		})
	}
}

// TestPKIXRefuses: every malformed or unsupported SubjectPublicKeyInfo is
// refused, as crypto/x509 refuses it or as CheckKey would.
func TestPKIXRefuses(t *testing.T) {
	keys := testKeys(t)
	der := func(k crypto.PublicKey) []byte {
		b, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	respki := func(alg algorithmIdentifier, key []byte) []byte {
		b, err := asn1.Marshal(subjectPublicKeyInfo{Algorithm: alg, PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p256 := keys["ecdsa P-256"].(*ecdsa.PublicKey)
	point, _ := p256.Bytes()
	badPoint := bytes.Clone(point)
	badPoint[len(badPoint)-1] ^= 1
	curve := func(oid asn1.ObjectIdentifier) asn1.RawValue {
		b, _ := asn1.Marshal(oid)
		return asn1.RawValue{FullBytes: b}
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := asn1.Marshal(pkcs1PublicKey{N: keys["rsa 2048"].(*rsa.PublicKey).N, E: 65537})
	ed := []byte(keys["ed25519"].(ed25519.PublicKey))
	for _, tc := range []struct {
		name        string
		der         []byte
		unsupported bool
		x509Parses  bool
	}{
		{"trailing data", append(der(p256), 0), false, false},
		{"truncated", der(p256)[:40], false, false},
		{"point not on the curve", respki(algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: curve(oidP256)}, badPoint), false, false},
		{"ecdsa without curve", respki(algorithmIdentifier{Algorithm: oidECPublicKey}, point), false, false},
		{"P-384 point for P-256", respki(algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: curve(oidP384)}, point), false, false},
		{"P-521", der(&p521.PublicKey), true, true},
		{"unknown curve", respki(algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: curve(asn1.ObjectIdentifier{1, 2, 3})}, point), true, false},
		{"ed25519 short", respki(algorithmIdentifier{Algorithm: oidEd25519}, ed[:31]), false, false},
		{"ed25519 with parameters", respki(algorithmIdentifier{Algorithm: oidEd25519, Parameters: asn1.NullRawValue}, ed), false, false},
		{"rsa without NULL", respki(algorithmIdentifier{Algorithm: oidRSA}, rsaKey), false, false},
		{"rsa trailing key data", respki(algorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}, append(bytes.Clone(rsaKey), 0)), false, true}, // stricter than crypto/x509
		{"rsa negative exponent", respki(algorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}, func() []byte {
			b, _ := asn1.Marshal(pkcs1PublicKey{N: keys["rsa 2048"].(*rsa.PublicKey).N, E: -3})
			return b
		}()), false, false},
		{"unknown algorithm", respki(algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 101, 110}}, ed), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parsePKIXPublicKey(tc.der)
			if err == nil {
				t.Fatalf("accepted %T", k)
			}
			if got := errors.Is(err, ErrUnsupportedKey); got != tc.unsupported {
				t.Errorf("error %q: wraps ErrUnsupportedKey = %v, want %v", err, got, tc.unsupported)
			}
			// crypto/x509 refuses the same, except keys it parses that
			// CheckKey refuses (P-521, X25519), and trailing bytes after an RSA
			// key, which it ignores and this codec refuses.
			if _, xerr := x509.ParsePKIXPublicKey(tc.der); (xerr == nil) != tc.x509Parses {
				t.Errorf("crypto/x509 error %v, want an error: %v", xerr, !tc.x509Parses)
			}
		})
	}
}
