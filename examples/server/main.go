// Command server is Switchboard's one-command backend: every package composed
// in memory behind one net/http server. See README.md beside this file.
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

type config struct {
	addr     string
	data     string
	iceIPs   []string
	stun     []string
	keyFile  string
	udpPort  int
	demo     bool
	webhook  string
	whSecret string
	user     string
	secret   string
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.data, "data", "", "folder for recordings (reserved: nothing is recorded yet)")
	fs.Func("ice-ip", "restrict ICE candidates to this address (repeatable), e.g. 127.0.0.1; unset = all interfaces", func(s string) error {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("not an IP address: %q", s)
		}
		c.iceIPs = append(c.iceIPs, s)
		return nil
	})
	fs.Func("ice-server", "a STUN/TURN URL handed to clients, e.g. stun:stun.example.com:3478 (repeatable)", func(s string) error {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			return fmt.Errorf("not a stun:, turn: or turns: URL: %q", s)
		}
		c.stun = append(c.stun, s)
		return nil
	})
	fs.StringVar(&c.keyFile, "key", "", "PEM file of the token signing key (P-256 ECDSA or Ed25519; every node of a cluster uses the same); default: generated at start")
	fs.IntVar(&c.udpPort, "udp-port", 0, "the one UDP port all media shares (0: any free port)")
	fs.StringVar(&c.webhook, "webhook-url", "", "POST call states, DTMF and participant events here, signed with SWITCHBOARD_WEBHOOK_SECRET (docs/webhooks.md)")
	fs.BoolVar(&c.demo, "demo", true, "serve the browser demo at / and hand out demo tokens at /demo/token (turn off anywhere real)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.user, c.secret = getenv("SWITCHBOARD_API_USER"), getenv("SWITCHBOARD_API_SECRET")
	c.whSecret = getenv("SWITCHBOARD_WEBHOOK_SECRET")
	if c.webhook != "" && len(c.whSecret) < 16 {
		return c, fmt.Errorf("-webhook-url needs SWITCHBOARD_WEBHOOK_SECRET of at least 16 bytes")
	}
	return c, nil
}

// run serves until ctx ends. It prints the API credentials and the URLs on out.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	cfg, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	generated := false
	if cfg.user == "" || cfg.secret == "" {
		cfg.user = "demo"
		if cfg.secret, err = auth.NewSecret(); err != nil {
			return err
		}
		generated = true
	}
	app, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "switchboard listening on %s\n", base)
	if generated {
		fmt.Fprintf(out, "API credentials (generated; set SWITCHBOARD_API_USER and SWITCHBOARD_API_SECRET to choose):\n  user:   %s\n  secret: %s\n", cfg.user, cfg.secret)
	} else {
		fmt.Fprintf(out, "API credentials: user %s (secret from SWITCHBOARD_API_SECRET)\n", cfg.user)
	}
	fmt.Fprintf(out, "try:  curl -u %s:<secret> -d grant_type=client_credentials %s/oauth2/token\n", cfg.user, base)
	fmt.Fprintf(out, "demo: %s/\n", base)

	srv := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		app.close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	app.close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
