// Command loadtest puts a Switchboard server under load from a separate
// process, as LiveKit's lk load-test does: R rooms of P participants, each
// a calling/client that joins a room by name, publishes Opus-sized RTP at
// 50 packets per second and receives everyone else's. It reports the
// joins, the time from join to first media, the packets sent, expected and
// received, the loss, and (given the server's PID) the server's CPU and
// memory. See README.md beside this file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if mode := os.Getenv(forwarderEnv); mode != "" { // a baseline run's forwarder (baseline.go)
		if err := runForwarder(mode, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest forwarder:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	run := run
	if cfg.baseline != "" {
		run = runBaseline
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	if err := rep.write(os.Stdout, cfg.json); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

// config is the load to put on the server.
type config struct {
	url          string // the server's base URL
	user, secret string // API credentials, to mint user tokens
	rooms        int
	participants int // per room
	publishers   int // per room
	duration     time.Duration
	joinRate     float64 // joins per second, all rooms together
	iceIP        string  // the one address every peer gathers candidates on
	serverPID    int     // 0: no server figures
	payload      int     // RTP payload bytes
	json         bool
	baseline     string // "", sendto or sendmmsg: a plain UDP forwarder instead of the server
	dataChannel  bool   // ask the server for each participant's data channel
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the server's base URL (examples/server)")
	fs.IntVar(&c.rooms, "rooms", 2, "rooms")
	fs.IntVar(&c.participants, "participants", 5, "participants per room")
	fs.IntVar(&c.publishers, "publishers", -1, "participants per room that publish audio (-1: all)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure, once everyone has joined")
	fs.Float64Var(&c.joinRate, "join-rate", 10, "joins per second, all rooms together")
	fs.StringVar(&c.iceIP, "ice-ip", "127.0.0.1", "the address every client gathers ICE candidates on")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the server's process id, to report its CPU time and memory (Linux /proc)")
	fs.IntVar(&c.payload, "payload", 80, "RTP payload bytes per packet (Opus at 32 kbit/s is about 80)")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.dataChannel, "data-channel", true, "open each participant's data channel (false: audio-only peers, as a phone app that never sends data would join)")
	fs.StringVar(&c.baseline, "baseline", "", "sendto or sendmmsg: measure a plain UDP forwarder process (one system call per datagram, or per fan-out) in the same shape instead of the server")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.user, c.secret = getenv("SWITCHBOARD_API_USER"), getenv("SWITCHBOARD_API_SECRET")
	if c.publishers < 0 {
		c.publishers = c.participants
	}
	switch {
	case c.baseline != "" && c.baseline != "sendto" && c.baseline != "sendmmsg":
		return c, errors.New("-baseline must be sendto or sendmmsg")
	case c.baseline == "" && (c.user == "" || c.secret == ""):
		return c, errors.New("set SWITCHBOARD_API_USER and SWITCHBOARD_API_SECRET to the server's API credentials")
	case c.rooms < 1 || c.participants < 2:
		return c, errors.New("-rooms must be at least 1 and -participants at least 2")
	case c.publishers > c.participants:
		return c, errors.New("-publishers cannot exceed -participants")
	case c.duration <= 0 || c.joinRate <= 0:
		return c, errors.New("-duration and -join-rate must be positive")
	case net.ParseIP(c.iceIP) == nil:
		return c, fmt.Errorf("-ice-ip %q is not an IP address", c.iceIP)
	case c.payload < minPayload || c.payload > 1200:
		return c, fmt.Errorf("-payload must be %d to 1200 bytes", minPayload)
	case !strings.HasPrefix(c.url, "http://") && !strings.HasPrefix(c.url, "https://"):
		return c, errors.New("-url must be an http:// or https:// URL")
	}
	return c, nil
}

// report is what a run measured.
type report struct {
	Rooms        int `json:"rooms"`
	Participants int `json:"participants"`
	Publishers   int `json:"publishers"`
	Joined       int `json:"joined"`
	// FirstMediaMs is the time from sending join to the first packet
	// received, over the participants that hear someone.
	FirstMediaMs percentiles `json:"firstMediaMs"`
	// In the measured window: packets the publishers sent, the packets the
	// listeners should have received (each sent packet once per other
	// participant of the room), and those they did.
	Sent     int64   `json:"sent"`
	Expected int64   `json:"expected"`
	Received int64   `json:"received"`
	LossPct  float64 `json:"lossPct"`
	Seconds  float64 `json:"seconds"`
	// The server's CPU seconds in the window, its resident memory at the
	// end, and the packets it delivered per CPU second.
	ServerCPUSeconds     float64        `json:"serverCpuSeconds,omitempty"`
	ServerRSSMiB         float64        `json:"serverRssMiB,omitempty"`
	ReceivedPerCPUSecond float64        `json:"receivedPerCpuSecond,omitempty"`
	ServerRSSPerPeerMiB  float64        `json:"serverRssPerParticipantMiB,omitempty"`
	Errors               map[string]int `json:"errors,omitempty"`
}

type percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

func (r *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "rooms %d × participants %d (%d publishing each): %d joined\n", r.Rooms, r.Participants, r.Publishers, r.Joined)
	fmt.Fprintf(w, "join → first media: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", r.FirstMediaMs.P50, r.FirstMediaMs.P95, r.FirstMediaMs.P99)
	fmt.Fprintf(w, "in %.1f s: sent %d, expected %d, received %d, loss %.3f %%\n", r.Seconds, r.Sent, r.Expected, r.Received, r.LossPct)
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "server: %.2f CPU s, %.0f packets delivered per CPU second, RSS %.1f MiB (%.2f MiB per participant)\n",
			r.ServerCPUSeconds, r.ReceivedPerCPUSecond, r.ServerRSSMiB, r.ServerRSSPerPeerMiB)
	}
	for kind, n := range r.Errors {
		fmt.Fprintf(w, "errors: %s × %d\n", kind, n)
	}
	return nil
}
