package calling

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (docs/webhooks.md).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

const whsecPrefix = "whsec_"

// webhookKey decodes a secret: "whsec_<base64>" or raw bytes.
func webhookKey(secret []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(secret, []byte(whsecPrefix))
	if !ok {
		return secret, nil
	}
	k, err := base64.StdEncoding.DecodeString(string(rest))
	if err != nil || len(k) == 0 {
		return nil, ErrWebhookSecret
	}
	return k, nil
}

// SignWebhook returns the webhook-signature value of a request in the
// Standard Webhooks format: "v1," followed by the base64 of
// HMAC-SHA256(key, "<id>.<timestamp>.<body>"). secret is raw bytes or
// "whsec_<base64>" (a "whsec_" secret that does not decode is used raw).
func SignWebhook(secret []byte, id string, timestamp int64, body []byte) string {
	k, err := webhookKey(secret)
	if err != nil {
		k = secret
	}
	return signWebhookKeys([][]byte{k}, id, timestamp, body)
}

// signWebhookKeys signs with each decoded key, space separated.
func signWebhookKeys(keys [][]byte, id string, timestamp int64, body []byte) string {
	var b strings.Builder
	ts := strconv.FormatInt(timestamp, 10)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(webhookMAC(k, id, ts, body)))
	}
	return b.String()
}

func webhookMAC(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// maxWebhookSignatures bounds the signatures VerifyWebhook tries.
const maxWebhookSignatures = 16

// VerifyWebhook checks a received webhook in the Standard Webhooks format:
// the webhook-timestamp is within tolerance of now (against replays), and
// one of the space-separated "v1,<base64>" signatures in webhook-signature
// is the HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>" under
// secret (raw bytes or "whsec_<base64>"), compared in constant time. body
// must be the raw bytes received. Errors: ErrWebhookSecret,
// ErrWebhookHeaders, ErrWebhookTimestamp, ErrWebhookSignature; none
// contains the secret.
func VerifyWebhook(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := webhookKey(secret)
	if err != nil || len(key) == 0 {
		return ErrWebhookSecret
	}
	id, tsText, sigs := header.Get(HeaderWebhookID), header.Get(HeaderWebhookTimestamp), header.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" || strings.ContainsAny(tsText, "+-") {
		return ErrWebhookHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrWebhookHeaders
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	want := webhookMAC(key, id, tsText, body)
	for i, sig := range strings.Fields(sigs) {
		if i == maxWebhookSignatures {
			break
		}
		b64, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue // another scheme (v1a, ...)
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}
