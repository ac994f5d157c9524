package apns

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/certificate"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/switchboard-rtc/switchboard/push"
)

// The APNs hosts.
const (
	ProductionHost = apns2.HostProduction
	SandboxHost    = apns2.HostDevelopment
)

// maxCollapseID is APNs' limit on apns-collapse-id, in bytes.
const maxCollapseID = 64

// Notifier sends wake-ups as APNs VoIP pushes. It keeps one HTTP/2
// connection per environment open across sends, as Apple asks. Safe for
// concurrent use.
type Notifier struct {
	bundle     string
	topic      string
	sandbox    bool
	production *apns2.Client
	sandboxed  *apns2.Client
}

var _ push.Notifier = (*Notifier)(nil)

// New checks cfg, parses its key or certificate and, with token
// authentication, signs a first provider token so that a bad key fails
// here rather than as an empty bearer on every push.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tlsCfg := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var tok *token.Token
	var cert tls.Certificate
	if len(cfg.AuthKey) > 0 {
		key, err := token.AuthKeyFromBytes(cfg.AuthKey)
		if err != nil {
			return nil, fmt.Errorf("apns: the .p8 key: %w", err)
		}
		tok = &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
		if _, err := tok.Generate(); err != nil {
			return nil, fmt.Errorf("apns: sign a provider token: %w", err)
		}
	} else {
		var err error
		if strings.Contains(string(cfg.Certificate), "-----BEGIN") {
			cert, err = certificate.FromPemBytes(cfg.Certificate, cfg.CertificatePassword)
		} else {
			cert, err = certificate.FromP12Bytes(cfg.Certificate, cfg.CertificatePassword)
		}
		if err != nil {
			// The library's errors name no secret; wrap them for the host.
			return nil, fmt.Errorf("apns: the certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	hc := &http.Client{
		Transport: voipHeaders{&http2.Transport{TLSClientConfig: tlsCfg, ReadIdleTimeout: apns2.ReadIdleTimeout}},
		Timeout:   apns2.HTTPClientTimeout,
	}
	client := func(host string) *apns2.Client {
		if cfg.Host != "" {
			host = strings.TrimSuffix(cfg.Host, "/")
		}
		return &apns2.Client{Host: host, Token: tok, Certificate: cert, HTTPClient: hc}
	}
	return &Notifier{
		bundle: cfg.BundleID, topic: cfg.BundleID + ".voip", sandbox: cfg.Sandbox,
		production: client(ProductionHost), sandboxed: client(SandboxHost),
	}, nil
}

// Send pushes w to d: apns-push-type voip, topic <bundle>.voip, priority
// 10, expiration 0 (deliver now or never), collapse id = call id, and
// w.Payload() as the JSON body. It maps APNs' answer to a *push.SendError:
// 410, Unregistered and BadDeviceToken are a dead token; 429 and 5xx are
// transient, as are network errors; anything else is permanent.
func (n *Notifier) Send(ctx context.Context, d push.Device, w push.Wakeup) error {
	if d.Platform != push.APNs {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "wrong_platform", Err: fmt.Errorf("apns: device platform %q", d.Platform)}
	}
	if d.App != "" && d.App != n.bundle {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "wrong_app", Err: fmt.Errorf("apns: device app %q is not the configured bundle %q", d.App, n.bundle)}
	}
	body, err := json.Marshal(w.Payload())
	if err != nil {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "payload", Err: err}
	}
	note := &apns2.Notification{
		DeviceToken: d.Token,
		Topic:       n.topic,
		Priority:    apns2.PriorityHigh,
		PushType:    apns2.PushTypeVOIP,
		Payload:     body,
	}
	if len(w.CallID) <= maxCollapseID {
		note.CollapseID = w.CallID
	}
	c := n.production
	if n.sandbox || d.Sandbox {
		c = n.sandboxed
	}
	res, err := c.PushWithContext(ctx, note)
	if err != nil {
		return transportError(ctx, err)
	}
	return answer(res)
}

// answer maps an APNs response to nil or a *push.SendError.
func answer(res *apns2.Response) error {
	if res.StatusCode == http.StatusOK {
		return nil
	}
	se := &push.SendError{Status: res.StatusCode, Reason: res.Reason, Err: errors.New("apns: push refused")}
	switch {
	case res.StatusCode == http.StatusGone, res.Reason == apns2.ReasonUnregistered, res.Reason == apns2.ReasonBadDeviceToken:
		se.Failure = push.FailureDeadToken
	case res.StatusCode == http.StatusTooManyRequests, res.StatusCode >= 500:
		se.Failure = push.FailureTransient
	default:
		se.Failure = push.FailurePermanent
	}
	return se
}

// transportError is a send that got no answer: transient. The URL (which
// holds the device token) is dropped from the error.
func transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	reason := "network"
	if ctx.Err() != nil {
		reason = "timeout"
	}
	return &push.SendError{Failure: push.FailureTransient, Reason: reason, Err: err}
}

// voipHeaders sends apns-expiration: 0 (apns2 leaves the header out for a
// zero expiration, and APNs would then store the push and deliver it late).
type voipHeaders struct{ next *http2.Transport }

func (t voipHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("apns-expiration") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("apns-expiration", "0")
	}
	return t.next.RoundTrip(r)
}

// CloseIdleConnections lets apns2's Client.CloseIdleConnections through.
func (t voipHeaders) CloseIdleConnections() { t.next.CloseIdleConnections() }

// Close closes idle connections to APNs.
func (n *Notifier) Close() error {
	n.production.CloseIdleConnections()
	return nil
}
