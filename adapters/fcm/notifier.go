package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/switchboard-rtc/switchboard/push"
)

// Notifier sends wake-ups as FCM v1 high-priority data messages. Safe for
// concurrent use.
type Notifier struct {
	client  *messaging.Client
	pkg     string
	clock   Clock
	project string
}

var _ push.Notifier = (*Notifier)(nil)

// New checks cfg and builds the Firebase messaging client. Nothing is sent
// and no token is fetched until the first Send; a service account whose
// private key does not parse fails here.
func New(cfg Config) (*Notifier, error) {
	project := cfg.ProjectID
	opts := []option.ClientOption{}
	switch {
	case cfg.TokenSource != nil:
		if project == "" {
			return nil, errors.New("fcm: ProjectID is required with a TokenSource")
		}
		opts = append(opts, option.WithTokenSource(cfg.TokenSource))
	case len(cfg.ServiceAccountJSON) > 0:
		sa, err := parseServiceAccount(cfg.ServiceAccountJSON)
		if err != nil {
			return nil, err
		}
		project = cmpOr(project, sa.ProjectID)
		if project == "" {
			return nil, errors.New("fcm: no project id: set ProjectID or use a service account with project_id")
		}
		opts = append(opts, option.WithCredentialsJSON(cfg.ServiceAccountJSON))
	default:
		return nil, errors.New("fcm: configure ServiceAccountJSON or a TokenSource")
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/")))
	}
	// The context only builds the client; requests use Send's.
	app, err := firebase.NewApp(context.Background(), &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	client, err := app.Messaging(context.Background())
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &Notifier{client: client, pkg: cfg.PackageName, clock: clock, project: project}, nil
}

// Send sends w to d as a data message (w.Payload().Data(): every value a
// string) with android.priority "high" and a TTL of the time left until
// w.ExpiresAt, restricted to the app's package when one is known. The
// Firebase SDK retries 503s and network errors by itself; ctx (the Waker's
// per-attempt deadline) bounds those retries. Answers map to a
// *push.SendError: UNREGISTERED, and INVALID_ARGUMENT about the token, are
// a dead token; 429, 5xx and no answer are transient (with the server's
// Retry-After); anything else is permanent.
func (n *Notifier) Send(ctx context.Context, d push.Device, w push.Wakeup) error {
	if d.Platform != push.FCM {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "wrong_platform", Err: fmt.Errorf("fcm: device platform %q", d.Platform)}
	}
	pkg := n.pkg
	if pkg != "" && d.App != "" && d.App != pkg {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "wrong_app", Err: fmt.Errorf("fcm: device app %q is not the configured package %q", d.App, pkg)}
	}
	pkg = cmpOr(pkg, d.App)
	ttl := w.ExpiresAt.Sub(n.clock.Now()).Truncate(time.Millisecond)
	if ttl <= 0 {
		return &push.SendError{Failure: push.FailurePermanent, Reason: "expired", Err: push.ErrExpired}
	}
	msg := &messaging.Message{
		Token: d.Token,
		Data:  w.Payload().Data(),
		Android: &messaging.AndroidConfig{
			Priority:              "high",
			TTL:                   &ttl,
			RestrictedPackageName: pkg,
		},
	}
	_, err := n.client.Send(ctx, msg)
	if err == nil {
		return nil
	}
	return sendError(ctx, err, n.clock.Now())
}

// sendError maps an error of the Firebase SDK to a *push.SendError.
func sendError(ctx context.Context, err error, now time.Time) *push.SendError {
	res := errorutils.HTTPResponse(err)
	if res == nil {
		reason := "network"
		if ctx.Err() != nil {
			reason = "timeout"
		}
		return &push.SendError{Failure: push.FailureTransient, Reason: reason, Err: err}
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	se := &push.SendError{Status: res.StatusCode, Reason: fcmErrorCode(body), Err: errors.New("fcm: message refused")}
	switch {
	case messaging.IsUnregistered(err):
		se.Failure = push.FailureDeadToken
	case messaging.IsInvalidArgument(err) || errorutils.IsInvalidArgument(err):
		if aboutToken(body) {
			se.Failure = push.FailureDeadToken
		}
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		se.Failure = push.FailureTransient
		se.RetryAfter = retryAfter(res.Header.Get("Retry-After"), now)
	}
	return se
}

// fcmError is the part of FCM's error body this adapter reads.
type fcmError struct {
	Error struct {
		Status  string `json:"status"`
		Message string `json:"message"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// fcmErrorCode is the FcmError's errorCode, else the status ("UNREGISTERED",
// "INVALID_ARGUMENT", "UNAVAILABLE").
func fcmErrorCode(body []byte) string {
	var e fcmError
	_ = json.Unmarshal(body, &e)
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			return d.ErrorCode
		}
	}
	return e.Error.Status
}

// aboutToken reports whether an INVALID_ARGUMENT names the registration
// token (a BadRequest field violation on message.token, or FCM's message
// about the token), not another part of the message.
func aboutToken(body []byte) bool {
	var e fcmError
	_ = json.Unmarshal(body, &e)
	for _, d := range e.Error.Details {
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				return true
			}
		}
	}
	return strings.Contains(strings.ToLower(e.Error.Message), "registration token")
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
