package prometheus

import (
	"errors"
	"reflect"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/netquality"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/recording"
)

// The sources a Collector reads, each the one method it calls (the types
// named in each comment implement it).
type (
	// CallingStats is a *calling.Server.
	CallingStats interface{ Stats() calling.Stats }
	// WebhookStats is a *calling.Webhooks.
	WebhookStats interface{ Stats() calling.WebhookStats }
	// TokenStats is an *auth.TokenHandler.
	TokenStats interface{ Stats() auth.TokenStats }
	// PushStats is a *push.Waker.
	PushStats interface{ Stats() push.Stats }
	// RecordingStats is a *recording.Recorder.
	RecordingStats interface{ Stats() recording.Stats }
	// QualityStats is a *netquality.Monitor.
	QualityStats interface{ Stats() netquality.Stats }
)

// Config names the sources of a Collector. Each is optional (nil, or a
// nil pointer such as a *calling.Webhooks that was never made: its metrics
// are not exported), but at least one is required.
type Config struct {
	Calling   CallingStats
	Webhooks  WebhookStats
	Tokens    TokenStats
	Push      PushStats
	Recording RecordingStats
	Quality   QualityStats
}

// Collector is a prometheus.Collector of Switchboard's metrics: register
// it with a prometheus.Registry. It reads its sources at each Collect and
// keeps nothing between scrapes. Safe for concurrent use.
type Collector struct {
	cfg   Config
	descs []*prom.Desc // of the configured sources, for Describe
}

var _ prom.Collector = (*Collector)(nil)

// ErrNoSource is New's error for a Config without any source.
var ErrNoSource = errors.New("prometheus: Config names no source")

// New returns a Collector of cfg's sources.
func New(cfg Config) (*Collector, error) {
	cfg.Calling = present(cfg.Calling)
	cfg.Webhooks = present(cfg.Webhooks)
	cfg.Tokens = present(cfg.Tokens)
	cfg.Push = present(cfg.Push)
	cfg.Recording = present(cfg.Recording)
	cfg.Quality = present(cfg.Quality)
	c := &Collector{cfg: cfg}
	if cfg.Calling != nil {
		c.descs = append(c.descs, callingDescs...)
	}
	if cfg.Webhooks != nil {
		c.descs = append(c.descs, webhookDescs...)
	}
	if cfg.Tokens != nil {
		c.descs = append(c.descs, tokenDescs...)
	}
	if cfg.Push != nil {
		c.descs = append(c.descs, pushOutcomes)
	}
	if cfg.Recording != nil {
		c.descs = append(c.descs, recordingsActive, recordingWritten)
	}
	if cfg.Quality != nil {
		c.descs = append(c.descs, packetsMeasured, packetsLost)
	}
	if len(c.descs) == 0 {
		return nil, ErrNoSource
	}
	return c, nil
}

// Describe implements prometheus.Collector: the metrics of the configured
// sources.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads every configured
// source once.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	if c.cfg.Calling != nil {
		collectCalling(ch, c.cfg.Calling.Stats())
	}
	if c.cfg.Webhooks != nil {
		collectWebhooks(ch, c.cfg.Webhooks.Stats())
	}
	if c.cfg.Tokens != nil {
		collectTokens(ch, c.cfg.Tokens.Stats())
	}
	if c.cfg.Push != nil {
		for k, n := range c.cfg.Push.Stats().Outcomes {
			counter(ch, pushOutcomes, n, string(k.Kind), string(k.Platform))
		}
	}
	if c.cfg.Recording != nil {
		s := c.cfg.Recording.Stats()
		gauge(ch, recordingsActive, s.Active)
		counter(ch, recordingWritten, s.BytesWritten)
	}
	if c.cfg.Quality != nil {
		s := c.cfg.Quality.Stats()
		for _, d := range []struct {
			name string
			s    netquality.DirectionStats
		}{{protocol.DirectionUplink, s.Uplink}, {protocol.DirectionDownlink, s.Downlink}} {
			counter(ch, packetsMeasured, d.s.Packets, d.name)
			counter(ch, packetsLost, d.s.Lost, d.name)
		}
	}
}

// present returns s, or nil when s holds a nil pointer (an interface
// holding one is not nil, and its Stats would panic at the first scrape).
func present[S any](s S) S {
	if v := reflect.ValueOf(s); v.Kind() == reflect.Pointer && v.IsNil() {
		var none S
		return none
	}
	return s
}

func counter(ch chan<- prom.Metric, d *prom.Desc, v uint64, labels ...string) {
	ch <- prom.MustNewConstMetric(d, prom.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prom.Metric, d *prom.Desc, v int, labels ...string) {
	ch <- prom.MustNewConstMetric(d, prom.GaugeValue, float64(v), labels...)
}

func desc(name, help string, labels ...string) *prom.Desc {
	return prom.NewDesc("switchboard_"+name, help, labels, nil)
}
