package attest_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	. "github.com/bpf2go-signed/bpf2go-signed/attest"
	"github.com/bpf2go-signed/bpf2go-signed/attest/ed25519key"
	"github.com/bpf2go-signed/bpf2go-signed/attest/rsakey"
)

// The ASN.1 of RFC 5280 and RFC 8017, to build malformed keys.
type (
	algorithmIdentifier struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	subjectPublicKeyInfo struct {
		Algorithm algorithmIdentifier
		PublicKey asn1.BitString
	}
	pkcs1PublicKey struct {
		N *big.Int
		E int
	}
)

var (
	oidRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519     = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384        = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
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
			parsed, err := ParsePKIXPublicKey(want)
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
			k, err := ParsePKIXPublicKey(tc.der)
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

// familyOf names the family of the keys of testKeys.
func familyOf(name string) *KeyAlgorithm {
	switch {
	case strings.HasPrefix(name, "ecdsa"):
		return ECDSA
	case strings.HasPrefix(name, "ed25519"):
		return ed25519key.Algorithm
	}
	return rsakey.Algorithm
}

// TestKeyAlgorithmsRestrict: a set of one family reads, checks, writes
// and verifies keys of that family exactly as the full set does, and
// refuses keys of every other family with ErrKeyAlgorithm, naming what it
// found and what it accepts, before reading the key bits.
func TestKeyAlgorithmsRestrict(t *testing.T) {
	keys := testKeys(t)
	for _, family := range AllKeyAlgorithms() {
		set := KeyAlgorithms{family}
		for name, k := range keys {
			t.Run(family.String()+"/"+name, func(t *testing.T) {
				der, err := x509.MarshalPKIXPublicKey(k)
				if err != nil {
					t.Fatal(err)
				}
				pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				parsed, perr := set.ParsePublicKey(pemKey)
				cerr := set.CheckKey(k)
				mder, merr := set.MarshalPKIXPublicKey(k)
				if familyOf(name) == family {
					for _, err := range []error{perr, cerr, merr} {
						if err != nil {
							t.Fatal(err)
						}
					}
					if !parsed.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) || !bytes.Equal(mder, der) {
						t.Fatalf("parsed %v, wrote %x; want %v, %x", parsed, mder, k, der)
					}
					if set.Of(k) != family {
						t.Fatalf("Of = %v, want %v", set.Of(k), family)
					}
					return
				}
				if set.Of(k) != nil {
					t.Fatalf("Of = %v, want none", set.Of(k))
				}
				for what, err := range map[string]error{"ParsePublicKey": perr, "CheckKey": cerr, "MarshalPKIXPublicKey": merr} {
					if !errors.Is(err, ErrKeyAlgorithm) || !errors.Is(err, ErrUnsupportedKey) {
						t.Fatalf("%s: error %v, want ErrKeyAlgorithm (and ErrUnsupportedKey)", what, err)
					}
					msg := err.Error()
					if !strings.Contains(msg, familyOf(name).String()+" key") || !strings.Contains(msg, "accepts "+family.String()+" keys only") {
						t.Errorf("%s: %q does not say what was found (%s) and what is accepted (%s)", what, msg, familyOf(name), family)
					}
				}
			})
		}
	}
	// Malformed keys of a family the set leaves out are refused as of
	// that family: the set does not read them.
	p256 := keys["ecdsa P-256"].(*ecdsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(p256)
	if _, err := (KeyAlgorithms{rsakey.Algorithm}).ParsePKIXPublicKey(der[:len(der)-1]); err == nil {
		t.Fatal("truncated key accepted")
	}
	if _, err := (KeyAlgorithms{ed25519key.Algorithm}).ParsePKIXPublicKey(der); !errors.Is(err, ErrKeyAlgorithm) {
		t.Fatalf("ECDSA key read by an Ed25519-only set: %v", err)
	}
}

// TestParseKeyAlgorithms: -key-algorithms lists, in any order, give the
// set in canonical order; unknown, repeated and empty names are refused.
func TestParseKeyAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		list, want string
	}{
		{"all", "ecdsa,ed25519,rsa"},
		{"ecdsa", "ecdsa"},
		{"rsa,ecdsa", "ecdsa,rsa"},
		{"ed25519, rsa", "ed25519,rsa"},
		{"rsa,ed25519,ecdsa", "ecdsa,ed25519,rsa"},
		{"", ""},
		{"ecdsa,", ""},
		{"ecdsa,ecdsa", ""},
		{"dsa", ""},
		{"ECDSA", ""},
	} {
		set, err := ParseKeyAlgorithms(tc.list)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %v", tc.list, set)
			}
			continue
		}
		if err != nil || set.String() != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.list, set, err, tc.want)
		}
	}
	if got := (KeyAlgorithms{rsakey.Algorithm}).With("ecdsa"); got != "ecdsa,rsa" {
		t.Errorf("With = %q", got)
	}
}

// TestCheckKeyRefusesHandMade: keys built by hand that the verifiers
// cannot use are refused, not passed on to a panic.
func TestCheckKeyRefusesHandMade(t *testing.T) {
	for _, k := range []crypto.PublicKey{
		ed25519.PublicKey(make([]byte, 31)),
		&ecdsa.PublicKey{},
		&ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)},
		&ecdsa.PublicKey{Curve: elliptic.P384()},
		&rsa.PublicKey{E: 65537},
		nil,
		"a string",
	} {
		if err := CheckKey(k); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("%T: %v, want ErrUnsupportedKey", k, err)
		}
	}
}

// TestCheckKeyRefusesUnusableRSA: RSA keys that crypto/rsa verifies no
// signature with (exponent 1, even or above 2³¹-1, even modulus) are
// refused as unsupported, read from PEM (crypto/x509 writes and reads
// them) or built by hand, rather than trusted and then failing every
// signature as a bad one; a key with a usable exponent (3, 65537,
// 2³¹-1) is accepted.
func TestCheckKeyRefusesUnusableRSA(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	even := new(big.Int).Lsh(big.NewInt(1), 2047)
	for _, tt := range []struct {
		key    *rsa.PublicKey
		usable bool
	}{
		{&rsa.PublicKey{N: k.N, E: 1}, false},
		{&rsa.PublicKey{N: k.N, E: 2}, false},
		{&rsa.PublicKey{N: k.N, E: 65536}, false},
		{&rsa.PublicKey{N: k.N, E: 1<<31 + 1}, false},
		{&rsa.PublicKey{N: even, E: 65537}, false},
		{&rsa.PublicKey{N: k.N, E: 3}, true},
		{&rsa.PublicKey{N: k.N, E: 65537}, true},
		{&rsa.PublicKey{N: k.N, E: 1<<31 - 1}, true},
	} {
		sum := sha256.Sum256([]byte("x"))
		sig := make([]byte, 256)
		verr := rsa.VerifyPKCS1v15(tt.key, crypto.SHA256, sum[:], sig)
		if usable := !strings.HasPrefix(verr.Error(), "crypto/rsa: public"); usable != tt.usable {
			t.Fatalf("E %d: crypto/rsa says %v, want usable %v", tt.key.E, verr, tt.usable)
		}
		der, err := x509.MarshalPKIXPublicKey(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		cerr := CheckKey(tt.key)
		for _, err := range []error{perr, cerr} {
			if tt.usable && err != nil || !tt.usable && !errors.Is(err, ErrUnsupportedKey) {
				t.Errorf("E %d, %d-bit modulus: %v, want usable %v", tt.key.E, tt.key.N.BitLen(), err, tt.usable)
			}
		}
	}
}
