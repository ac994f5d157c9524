package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
)

// readinessCheck is one dependency GET /readyz asks about: name is what the
// answer lists when check fails (a store's ping, say). check gets a context
// that ends after the readiness timeout (-ready-check-timeout).
type readinessCheck struct {
	name  string
	check func(ctx context.Context) error
}

// readiness answers GET /readyz: whether a load balancer should send this
// node new work. It is not ready while the node stops (from SIGTERM on,
// through the drain) or when a check fails. /healthz (alive) stays
// {"status":"ok"} throughout: a draining node is not to be restarted. Safe
// for concurrent use once serving; add checks before.
type readiness struct {
	stopping atomic.Bool
	draining func() bool // the signaling server's Draining
	checks   []readinessCheck
	timeout  time.Duration
	log      *slog.Logger
}

// ServeHTTP answers 200 {"status":"ready"}, or 503 {"status":"draining"}
// or {"status":"unavailable","failed":[names]}. Why a check failed goes to
// the log, not to the caller.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.stopping.Load() || r.draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"draining"}` + "\n"))
		return
	}
	if failed := r.failing(req.Context()); len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

// failing runs every check at once, each within the timeout, and returns
// the names of those that failed, in the order of checks.
func (r *readiness) failing(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	errs := make([]error, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.check(ctx)
		}()
	}
	wg.Wait()
	failed := []string{}
	for i, err := range errs {
		if err != nil {
			r.log.Warn("readiness check failed", "check", r.checks[i].name, "err", err)
			failed = append(failed, r.checks[i].name)
		}
	}
	return failed
}

// drain takes the node out of service before it shuts down: /readyz
// answers draining at once, then the signaling server drains (new
// connections refused, idle ones sent to reconnectURL or the same URL,
// calls and rooms kept until they end or timeout passes). timeout 0 skips
// the drain: the shutdown closes every connection as before.
func (a *app) drain(timeout time.Duration, reconnectURL string, log *slog.Logger) {
	a.ready.stopping.Store(true)
	if timeout <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if a.leavePlacement != nil { // no new room is placed here; the ones here stay until they end
		if err := a.leavePlacement(ctx); err != nil {
			log.Warn("leaving room placement", "err", err)
		}
	}
	log.Info("draining signaling before shutdown", "timeout", timeout)
	err := a.signal.Drain(ctx, calling.DrainOptions{ReconnectURL: reconnectURL})
	log.Info("drained", "took", time.Since(start).Round(time.Millisecond), "cut_at_deadline", err != nil)
}

// leavePlacement is the cluster's Nodes.Drain, nil for one node.
func (s *shared) leavePlacement() func(context.Context) error {
	if s.nodes == nil {
		return nil
	}
	return s.nodes.Drain
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
