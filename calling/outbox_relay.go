package calling

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// relay delivers the events of an Outbox: one at a time per key, in order,
// concurrently across keys (at most concurrency deliveries at once), and
// retries a failed delivery with exponential backoff. An event leaves the
// outbox only once delivered or given up on, so whatever was not delivered
// when the relay stops is delivered by the next relay on the same outbox.
type relay struct {
	box         Outbox
	deliver     func(ctx context.Context, e OutboxEvent) error
	window      int // events read from the box and not yet done
	maxAttempts int // 0: no limit
	backoff     time.Duration
	maxBackoff  time.Duration
	clock       Clock
	log         *slog.Logger

	wake chan struct{}
	sem  chan struct{}

	mu     sync.Mutex
	held   int
	keys   map[string][]OutboxEvent // a key is present while its worker runs
	cursor uint64                   // read by run only

	delivered, retried, failed atomic.Uint64
}

type relayConfig struct {
	concurrency, window, maxAttempts int
	backoff, maxBackoff              time.Duration
	clock                            Clock
	log                              *slog.Logger
}

func newRelay(box Outbox, deliver func(context.Context, OutboxEvent) error, c relayConfig) *relay {
	return &relay{box: box, deliver: deliver, window: c.window, maxAttempts: c.maxAttempts, backoff: c.backoff,
		maxBackoff: c.maxBackoff, clock: c.clock, log: c.log, wake: make(chan struct{}, 1),
		sem: make(chan struct{}, c.concurrency), keys: map[string][]OutboxEvent{}}
}

// notify tells the relay that the outbox has new events; it never blocks.
func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run delivers until ctx ends, then waits for its workers.
func (r *relay) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		r.pull(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}

// pull reads events from the outbox while the window has room and hands
// each to its key's worker, starting one where none runs.
func (r *relay) pull(ctx context.Context, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		r.mu.Lock()
		room := r.window - r.held
		r.mu.Unlock()
		if room <= 0 {
			return // a finished event wakes us
		}
		evs, err := r.box.Next(ctx, r.cursor, room)
		if err != nil {
			r.log.Error("outbox read", "err", err)
			return
		}
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			r.cursor = e.Seq
			r.mu.Lock()
			r.held++
			q, running := r.keys[e.Key]
			r.keys[e.Key] = append(q, e)
			r.mu.Unlock()
			if !running {
				wg.Add(1)
				go r.work(ctx, wg, e.Key)
			}
		}
	}
}

// work delivers the events of one key in order until there are none left.
func (r *relay) work(ctx context.Context, wg *sync.WaitGroup, key string) {
	defer wg.Done()
	for {
		r.mu.Lock()
		q := r.keys[key]
		if len(q) == 0 || ctx.Err() != nil {
			delete(r.keys, key)
			r.mu.Unlock()
			return
		}
		e := q[0]
		r.mu.Unlock()
		if !r.attempt(ctx, e) {
			return // stopping: the event stays in the outbox
		}
		if err := r.box.Ack(context.WithoutCancel(ctx), e.Seq); err != nil {
			r.log.Error("outbox ack", "id", e.ID, "err", err)
		}
		r.mu.Lock()
		q = r.keys[key]
		q[0] = OutboxEvent{}
		r.keys[key] = q[1:]
		r.held--
		r.mu.Unlock()
		r.notify()
	}
}

// attempt delivers e, retrying with backoff; it reports false only when ctx
// ended first (e not done).
func (r *relay) attempt(ctx context.Context, e OutboxEvent) bool {
	backoff := r.backoff
	for n := 1; ; n++ {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		err := r.deliver(ctx, e)
		<-r.sem
		if err == nil {
			r.delivered.Add(1)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if r.maxAttempts > 0 && n >= r.maxAttempts {
			r.failed.Add(1)
			r.log.Warn("event not delivered; giving up", "id", e.ID, "type", e.Type, "key", e.Key, "attempts", n, "err", err)
			return true
		}
		r.retried.Add(1)
		if !r.sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, r.maxBackoff)
	}
}

func (r *relay) sleep(ctx context.Context, d time.Duration) bool {
	done := make(chan struct{})
	stop := r.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
		stop()
		return false
	}
}
