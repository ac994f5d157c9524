package calling

import (
	"context"
	"errors"
)

// DefaultHookConcurrency is how many Go hook calls run at once (for
// different calls) unless Config.HookConcurrency says otherwise.
const DefaultHookConcurrency = 8

// hookQueue holds the events of in-process hooks (Config.Hooks) between the
// code that raises them and the hook: a bounded MemoryOutbox read by a relay,
// so a slow hook never blocks signaling, and events wait instead of being
// dropped (past Config.HookQueue the oldest is dropped, counted and logged).
type hookQueue struct {
	box   *MemoryOutbox
	relay *relay
}

// initHooks builds the hook queue from the validated config.
func (s *Server) initHooks() error {
	if s.cfg.HookQueue < 0 || s.cfg.HookConcurrency < 0 {
		return errors.New("calling: Config.HookQueue and HookConcurrency cannot be negative")
	}
	if s.cfg.HookConcurrency == 0 {
		s.cfg.HookConcurrency = DefaultHookConcurrency
	}
	box, err := NewMemoryOutbox(MemoryOutboxConfig{Limit: s.cfg.HookQueue, Logger: s.log.With("queue", "hooks")})
	if err != nil {
		return err
	}
	deliver := func(ctx context.Context, e OutboxEvent) error {
		e.local(ctx, s.cfg.Hooks)
		return nil
	}
	s.hooks = hookQueue{box: box, relay: newRelay(box, deliver, relayConfig{concurrency: s.cfg.HookConcurrency,
		window: 1024, clock: s.clock, log: s.log})}
	return nil
}

// DroppedHookEvents is the number of hook events dropped because the hook
// queue was full (Config.HookQueue): a metric that only grows. Each drop is
// also logged at warning level.
func (s *Server) DroppedHookEvents() uint64 { return s.hooks.box.Dropped() }

// hookKey learns which call or session an event is about, so that the
// events of one are delivered in order and different ones concurrently.
type hookKey struct{ key, typ string }

func (k *hookKey) CallStateChanged(_ context.Context, e CallEvent) {
	k.key, k.typ = "c:"+e.CallID, "call.state"
}
func (k *hookKey) DTMFReceived(_ context.Context, e DTMFEvent) {
	k.key, k.typ = "c:"+e.CallID, "call.dtmf"
}
func (k *hookKey) ParticipantChanged(_ context.Context, e ParticipantEvent) {
	k.key, k.typ = "s:"+e.SessionID, "participant"
}
func (k *hookKey) QualityChanged(_ context.Context, e QualityEvent) {
	k.key, k.typ = "s:"+e.SessionID, "participant.quality"
}

func (k *hookKey) RecordingChanged(_ context.Context, e RecordingEvent) {
	if e.CallID != "" {
		k.key, k.typ = "c:"+e.CallID, "recording"
		return
	}
	k.key, k.typ = "s:"+e.SessionID, "recording"
}

var _ RecordingHooks = (*hookKey)(nil)

// hook hands an event to Config.Hooks without waiting for it: the event is
// stored before hook returns (in a Webhooks' own outbox, or in the server's
// hook queue for other hooks) and delivered in order per call or session.
func (s *Server) hook(fn func(context.Context, Hooks)) {
	switch h := s.cfg.Hooks.(type) {
	case NopHooks:
		return
	case *Webhooks:
		fn(s.ctx, h) // stores in its outbox and returns
		return
	}
	var k hookKey
	fn(s.ctx, &k)
	_, _ = s.hooks.box.Append(s.ctx, OutboxEvent{Key: k.key, Type: k.typ, local: fn})
	s.hooks.relay.notify()
}

// runHooks delivers the hook queue until the server closes.
func (s *Server) runHooks() {
	defer s.wg.Done()
	s.hooks.relay.run(s.ctx)
}
