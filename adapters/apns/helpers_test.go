package apns_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// tlsRequiringClientCert asks every client for a certificate; the fake's
// handler copies its CN into the recorded headers as X-Client-CN.
func tlsRequiringClientCert() *tls.Config {
	return &tls.Config{ClientAuth: tls.RequireAnyClientCert}
}

func rsaP8(t *testing.T) []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
