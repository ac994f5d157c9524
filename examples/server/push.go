package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchboard-rtc/switchboard/adapters/apns"
	"github.com/switchboard-rtc/switchboard/adapters/fcm"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/push"
)

// pushConfig is the push providers' configuration, read from the
// environment by adapters/apns and adapters/fcm (SWITCHBOARD_APNS_*,
// SWITCHBOARD_FCM_*; docs/push.md). A nil provider is not configured.
// The configurations hold secrets: only their String (which redacts them)
// is ever printed.
type pushConfig struct {
	apns *apns.Config
	fcm  *fcm.Config
}

func pushFromEnv(getenv func(string) string) (pushConfig, error) {
	var p pushConfig
	a, ok, err := apns.ConfigFromEnv(getenv)
	if err != nil {
		return p, err
	}
	if ok {
		p.apns = &a
	}
	f, ok, err := fcm.ConfigFromEnv(getenv)
	if err != nil {
		return p, err
	}
	if ok {
		p.fcm = &f
	}
	return p, nil
}

// String says which providers wake phones, through their configurations
// String methods, which redact every secret: the startup output.
func (p pushConfig) String() string {
	var on []string
	if p.apns != nil {
		on = append(on, p.apns.String())
	}
	if p.fcm != nil {
		on = append(on, p.fcm.String())
	}
	if len(on) == 0 {
		return "off (configure APNs with SWITCHBOARD_APNS_*, FCM with SWITCHBOARD_FCM_*; docs/push.md)"
	}
	return strings.Join(on, ", ")
}

// pushing is the devices API and, when a provider is configured, the
// calling.Waker that wakes an offline callee's registered devices.
type pushing struct {
	// devices is the REST API of a user's own devices (push.Handler),
	// served whether or not a provider is configured.
	devices http.Handler
	// waker is nil when neither APNs nor FCM is configured: calls to an
	// offline callee then fail callee_offline.
	waker calling.Waker
	// stats is the Waker's statistics (metrics.go); nil with waker.
	stats *push.Waker
	close func()
}

// newPushing builds the devices API and, when a provider is configured, the
// Waker; outcomes go to the log and, when webhooks is not nil, to the
// webhook receiver as "push.outcome" events.
func newPushing(cfg pushConfig, registry push.Registry, logger *slog.Logger, webhooks *calling.Webhooks) (*pushing, error) {
	devices, err := push.NewHandler(push.HandlerConfig{Registry: registry})
	if err != nil {
		return nil, err
	}
	p := &pushing{devices: devices, close: func() {}}
	notifiers := map[push.Platform]push.Notifier{}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	if cfg.apns != nil {
		n, err := apns.New(*cfg.apns) // fails on a bad key or certificate
		if err != nil {
			return nil, err
		}
		notifiers[push.APNs], closers = n, append(closers, func() { _ = n.Close() })
	}
	if cfg.fcm != nil {
		n, err := fcm.New(*cfg.fcm)
		if err != nil {
			closeAll()
			return nil, err
		}
		notifiers[push.FCM] = n
	}
	if len(notifiers) == 0 {
		return p, nil
	}
	// Outcomes go to the log through OnOutcome (push's own Logger would
	// repeat the failures), and to the webhooks, ordered per call.
	logged := logOutcome(logger)
	onOutcome := func(o push.Outcome) {
		logged(o)
		if webhooks != nil {
			webhooks.Post(context.Background(), "push.outcome", o.CallID, o)
		}
	}
	w, err := push.New(push.Config{Registry: registry, Notifiers: notifiers, OnOutcome: onOutcome})
	if err != nil {
		closeAll()
		return nil, err
	}
	p.waker = calling.WakerFunc(func(ctx context.Context, c calling.Wakeup) error {
		return w.Wake(ctx, push.Wakeup{Account: c.Account, Identity: c.Identity, CallID: c.CallID,
			From: c.From, DisplayName: c.DisplayName, HasVideo: c.HasVideo, ExpiresAt: c.ExpiresAt})
	})
	p.stats = w
	p.close = func() { _ = w.Close(); closeAll() }
	return p, nil
}

// logOutcome logs one outcome of a wake-up: the device by its id, never
// by its push token. Failures and expiries are warnings.
func logOutcome(logger *slog.Logger) func(push.Outcome) {
	return func(o push.Outcome) {
		level := slog.LevelInfo
		if o.Kind == push.OutcomeFailed || o.Kind == push.OutcomeExpired {
			level = slog.LevelWarn
		}
		logger.Log(context.Background(), level, "push wake-up", "outcome", o.Kind, "call", o.CallID,
			"device", o.DeviceID, "platform", o.Platform, "attempt", o.Attempt, "status", o.Status,
			"reason", o.Reason, "retryIn", o.RetryIn)
	}
}
