package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
)

// Mint and Verify beside the raw signature of the same algorithm, so the
// overhead of our claims handling reads as a ratio (docs/benchmarks.md).
func BenchmarkMint(b *testing.B) {
	for _, alg := range []auth.Algorithm{auth.ES256, auth.EdDSA, auth.HS256} {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			req := auth.TokenRequest{Identity: "alice", Grants: auth.Grants{Outgoing: true, Publish: []auth.Media{auth.MediaAudio}}}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := f.issuer.Mint(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []auth.Algorithm{auth.ES256, auth.EdDSA, auth.HS256} {
		b.Run(string(alg), func(b *testing.B) {
			f := newFixture(b, alg)
			tok, _, _ := f.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "alice"})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.verify.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawSign(b *testing.B) {
	msg := []byte(strings.Repeat("x", 300))
	b.Run("ES256", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for b.Loop() {
			d := sha256.Sum256(msg)
			if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EdDSA", func(b *testing.B) {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		for b.Loop() {
			ed25519.Sign(k, msg)
		}
	})
}

func BenchmarkRawVerify(b *testing.B) {
	msg := []byte(strings.Repeat("x", 300))
	b.Run("ES256", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		d := sha256.Sum256(msg)
		sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
		for b.Loop() {
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
				b.Fatal("bad")
			}
		}
	})
	b.Run("EdDSA", func(b *testing.B) {
		pub, k, _ := ed25519.GenerateKey(rand.Reader)
		sig := ed25519.Sign(k, msg)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad")
			}
		}
	})
}

// A full token-endpoint round trip over loopback HTTP (Basic auth check,
// form parsing, mint, JSON), ES256.
func BenchmarkTokenEndpoint(b *testing.B) {
	f := newFixture(b, auth.ES256)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	client := srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testClientID, testSecret)
		res, err := client.Do(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatal(err, res)
		}
		res.Body.Close()
	}
}
