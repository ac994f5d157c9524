package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-rtc/switchboard/adapters/prometheus"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/netquality"
)

// opsConfig is where the operator's endpoints are served (-metrics,
// -metrics-addr, -pprof).
type opsConfig struct {
	// metrics is how GET /metrics is served on the main listener:
	// metricsAdmin (default: behind the admin check, like the REST API),
	// metricsPublic (to anyone) or metricsOff.
	metrics string
	// metricsAddr is a second listener that serves only GET /metrics,
	// without authentication, for a Prometheus on an internal network;
	// "" (default): none.
	metricsAddr string
	// pprof mounts net/http/pprof under /debug/pprof/, behind the admin
	// check. Default off.
	pprof bool
}

// The values of -metrics.
const (
	metricsOff    = "off"
	metricsPublic = "public"
	metricsAdmin  = "admin"
)

func opsFlags(fs *flag.FlagSet, c *opsConfig) {
	c.metrics = metricsAdmin
	fs.Func("metrics", "GET /metrics (Prometheus) on the main listener: admin (API credentials or an admin token, as the REST API; default), public (no authentication) or off", func(s string) error {
		switch s {
		case metricsOff, metricsPublic, metricsAdmin:
			c.metrics = s
			return nil
		}
		return fmt.Errorf("-metrics must be off, public or admin, not %q", s)
	})
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "also serve GET /metrics, without authentication, on this address (e.g. 10.0.0.5:9090, an internal network Prometheus scrapes); default: no second listener")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's profiles (net/http/pprof) under /debug/pprof/, behind the admin check")
}

// ops holds the operator's endpoints: the Prometheus handler (Switchboard's
// metrics beside the Go runtime's and the process's) and the settings.
type ops struct {
	cfg     opsConfig
	metrics http.Handler
}

// newOps builds the metrics handler of the sources in src.
func newOps(cfg opsConfig, src prometheus.Config) (*ops, error) {
	col, err := prometheus.New(src)
	if err != nil {
		return nil, err
	}
	reg := prom.NewRegistry()
	if err := reg.Register(col); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	return &ops{cfg: cfg, metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}, nil
}

// metricsSources are the sources of the example's metrics; webhooks and
// pushes.stats are nil when not configured, and prometheus.New leaves
// them out then.
func metricsSources(signal *calling.Server, webhooks *calling.Webhooks, tokens *auth.TokenHandler, pushes *pushing,
	rec *recordings, quality *netquality.Monitor) prometheus.Config {
	return prometheus.Config{Calling: signal, Webhooks: webhooks, Tokens: tokens, Push: pushes.stats, Recording: rec.rec, Quality: quality}
}

// mount serves /metrics and /debug/pprof/ on the main listener's mux as
// the configuration says; admin is the REST API's admin check.
func (o *ops) mount(mux *http.ServeMux, admin func(http.Handler) http.Handler) {
	switch o.cfg.metrics {
	case metricsAdmin:
		mux.Handle("GET /metrics", admin(o.metrics))
	case metricsPublic:
		mux.Handle("GET /metrics", o.metrics)
	}
	if o.cfg.pprof {
		// Go's handlers, named one by one: http.DefaultServeMux (where
		// importing net/http/pprof registers them) is never served.
		p := http.NewServeMux()
		p.HandleFunc("/debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, allocs, block, mutex, threadcreate
		p.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		p.HandleFunc("/debug/pprof/profile", pprof.Profile)
		p.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		p.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/debug/pprof/", admin(p))
	}
}

// serveMetrics starts the -metrics-addr listener, if configured, prints
// its URL on out, and returns the function that stops it (waiting for it
// at most 5 s).
func serveMetrics(cfg opsConfig, h http.Handler, l httpLimits, out io.Writer, logger *slog.Logger) (stop func(), err error) {
	if cfg.metricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := newHTTPServer(mux, l, logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	fmt.Fprintf(out, "metrics: http://%s/metrics (no authentication: keep this address internal)\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
