package redis_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
)

// The password never shows in a printed or logged Config.
func TestConfigHidesPassword(t *testing.T) {
	cfg := redis.Config{Addr: "10.0.0.5:6379", Username: "sb", Password: "hunter2-very-secret", Prefix: "sb:"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("redis", "config", cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("the password shows: %s", out)
		}
		if !strings.Contains(out, "10.0.0.5:6379") || !strings.Contains(out, "redacted") {
			t.Fatalf("the address or the redaction is missing: %s", out)
		}
	}
}

func TestConfigRefusesNegatives(t *testing.T) {
	for _, cfg := range []redis.Config{{DialTimeout: -time.Second}, {ReadTimeout: -1}, {MaxConflictRetries: -1}, {PoolSize: -1}, {DB: -1}} {
		if _, err := redis.New(cfg); err == nil {
			t.Errorf("New(%v) accepted a negative value", cfg)
		}
	}
	c, err := redis.New(redis.Config{})
	if err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	c.Close()
}
