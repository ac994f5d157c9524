// Package prometheus exposes Switchboard's statistics as Prometheus
// metrics, with github.com/prometheus/client_golang: a Collector reads, at
// each scrape, the snapshots and counters the library packages keep for
// themselves (calling.Server.Stats, calling.Webhooks.Stats,
// auth.TokenHandler.Stats, push.Waker.Stats, recording.Recorder.Stats,
// netquality.Monitor.Stats) and turns them into switchboard_* metrics.
//
// The library packages never import Prometheus: their counters are atomic
// adds or short critical sections where the events happen (two atomic
// adds per forwarded packet on the media path), and nothing is computed
// until a scrape asks. A host registers a Collector with its own registry
// and serves it (promhttp.HandlerFor), as examples/server does at
// /metrics; docs/operations.md lists every metric with its type and
// labels.
//
// No metric carries an account, identity, session, call or device id:
// label values come from small fixed sets (states, causes, error codes,
// levels, directions, outcomes, platforms), so the number of series stays
// bounded whatever the traffic. A Collector is safe for concurrent use.
package prometheus
