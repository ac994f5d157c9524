package prometheus_test

import (
	"log"
	"net/http"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-rtc/switchboard/adapters/prometheus"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
)

// A host registers the Collector with its own registry, beside the Go
// runtime's and the process's collectors, and serves it.
func Example() {
	var (
		srv    *calling.Server    // calling.New(...)
		tokens *auth.TokenHandler // auth.NewTokenHandler(...)
	)
	c, err := prometheus.New(prometheus.Config{Calling: srv, Tokens: tokens})
	if err != nil {
		log.Fatal(err)
	}
	reg := prom.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	http.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
