package redis

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of Config.
const (
	DefaultAddr               = "127.0.0.1:6379"
	DefaultPrefix             = "switchboard:"
	DefaultTimeout            = 500 * time.Millisecond
	DefaultMaxConflictRetries = 100
)

// Config configures New. The zero value talks to Redis on 127.0.0.1:6379.
// Its String, GoString and LogValue never show the password.
type Config struct {
	// Addr is the server's host:port. Default DefaultAddr.
	Addr string
	// Username and Password authenticate (Redis ACLs; Password alone for
	// requirepass). Default: none.
	Username, Password string
	// DB is the database number. Default 0.
	DB int
	// TLS, when set, encrypts the connection with this configuration.
	TLS *tls.Config
	// Prefix starts every key and channel this package uses, so several
	// deployments (or tests) can share one Redis. With Redis Cluster, put a
	// hash tag in it ("{switchboard}:") so that every key lands in one slot:
	// transactions and scripts touch several keys at once. Default
	// DefaultPrefix.
	Prefix string
	// DialTimeout, ReadTimeout and WriteTimeout bound connecting and each
	// command's reply: with Redis down or stuck, every method fails within
	// about these times with ErrUnavailable, rather than making a request
	// wait. Default DefaultTimeout (500 ms) each.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the number of connections kept. Default: the client's
	// (10 per CPU). Each Bus subscription holds one more of its own.
	PoolSize int
	// MaxConflictRetries bounds how often Table.Update and
	// Store.UpdateMembership start again after another writer changed a
	// record under them (WATCH failed), with a short random pause between
	// attempts; past it they return ErrConflict. Default 100.
	MaxConflictRetries int
	// Logger receives the adapter's warnings. Default: discard.
	Logger *slog.Logger
}

// String shows the non-secret fields.
func (c Config) String() string {
	return fmt.Sprintf("redis.Config{Addr:%q Username:%q Password:%s DB:%d TLS:%t Prefix:%q}",
		c.Addr, c.Username, redacted(c.Password), c.DB, c.TLS != nil, c.Prefix)
}

// GoString is String (for %#v).
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", c.Addr), slog.String("username", c.Username),
		slog.String("password", redacted(c.Password)), slog.Int("db", c.DB), slog.Bool("tls", c.TLS != nil),
		slog.String("prefix", c.Prefix))
}

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "[redacted]"
}

// Client is a connection pool to one Redis server and the key prefix; the
// Store, Bus, ReplayCache, Presence, Registry and Nodes of this package
// are built on it and share its connections. It is safe for concurrent
// use. New does not connect: the first command does, and a Client whose
// server went away reconnects by itself when it returns.
type Client struct {
	rdb    *goredis.Client
	prefix string
	cfg    Config
	log    *slog.Logger
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	cfg.Addr = cmp.Or(cfg.Addr, DefaultAddr)
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.DialTimeout = cmp.Or(cfg.DialTimeout, DefaultTimeout)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, DefaultTimeout)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, DefaultTimeout)
	cfg.MaxConflictRetries = cmp.Or(cfg.MaxConflictRetries, DefaultMaxConflictRetries)
	if cfg.DialTimeout < 0 || cfg.ReadTimeout < 0 || cfg.WriteTimeout < 0 || cfg.MaxConflictRetries < 0 || cfg.PoolSize < 0 || cfg.DB < 0 {
		return nil, errors.New("redis: Config has a negative timeout, pool size, retry count or DB")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rdb := goredis.NewClient(&goredis.Options{
		Addr: cfg.Addr, Username: cfg.Username, Password: cfg.Password, DB: cfg.DB, TLSConfig: cfg.TLS,
		DialTimeout: cfg.DialTimeout, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		PoolTimeout: cfg.ReadTimeout, PoolSize: cfg.PoolSize,
		// Fail fast: one dial per attempt, one retry (a connection that
		// broke while idle in the pool), and a short pause before it.
		DialerRetries: 1, MaxRetries: 1, MinRetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	return &Client{rdb: rdb, prefix: cfg.Prefix, cfg: cfg, log: cfg.Logger}, nil
}

// Ping checks that Redis answers (a readiness probe can call it).
func (c *Client) Ping(ctx context.Context) error { return wrap("ping", c.rdb.Ping(ctx).Err()) }

// Close closes the connections. Subscriptions of a Bus end with it.
func (c *Client) Close() error { return c.rdb.Close() }

// keyEscaper keeps the parts of a key apart (":") and out of Redis
// Cluster's hash tags ("{", "}").
var keyEscaper = strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D")

// key joins the prefix, a fixed kind and escaped parts with ":".
func (c *Client) key(kind string, parts ...string) string {
	var b strings.Builder
	b.WriteString(c.prefix)
	b.WriteString(kind)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(keyEscaper.Replace(p))
	}
	return b.String()
}
