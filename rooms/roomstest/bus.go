package roomstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// NewBus returns a constructor of handles on one fresh bus: each call
// returns a rooms.Bus that reaches the same subscribers, as the nodes of one
// deployment see it (a process-local bus returns itself every time; a
// shared one returns a new client). It cleans up after itself with
// t.Cleanup.
type NewBus func(t *testing.T) func() rooms.Bus

// wait bounds every wait of the suites: generous, so a slow machine passes,
// and never reached by a correct implementation.
const wait = 10 * time.Second

// BusSuite tests a rooms.Bus: every subscriber, on any handle, sees every
// event published after it subscribed, with its fields intact, in one order
// common to all subscribers and in each publisher's order; Publish never
// waits for a subscriber, and one that falls more than its buffer behind is
// ended with ErrSlowConsumer while the others go on; a subscription ends
// cleanly (Err nil) when its context does.
func BusSuite(t *testing.T, newBus NewBus) {
	t.Run("EverySubscriberInOrder", func(t *testing.T) { testBusOrder(t, newBus(t)) })
	t.Run("OneOrderAcrossPublishers", func(t *testing.T) { testBusOneOrder(t, newBus(t)) })
	t.Run("OnlyAfterSubscribe", func(t *testing.T) { testBusAfterSubscribe(t, newBus(t)) })
	t.Run("SlowConsumerEnded", func(t *testing.T) { testBusSlowConsumer(t, newBus(t)) })
	t.Run("ContextEndsSubscription", func(t *testing.T) { testBusContextEnd(t, newBus(t)) })
}

func event(n int, from string) rooms.Event {
	return rooms.Event{Type: rooms.ParticipantAdded, Account: acctA, SessionID: from, ParticipantID: fmt.Sprintf("p-%d", n),
		At: time.Date(2030, 1, 2, 3, 4, 5, n, time.UTC)}
}

// receive reads n events from ev, failing the test if they do not come.
func receive(t *testing.T, ev *rooms.Events, n int) []rooms.Event {
	t.Helper()
	out := make([]rooms.Event, 0, n)
	deadline := time.After(wait)
	for len(out) < n {
		select {
		case e, ok := <-ev.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, ev.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("only %d of %d events arrived within %s", len(out), n, wait)
		}
	}
	return out
}

// ended waits for ev to close and returns the events still buffered.
func ended(t *testing.T, ev *rooms.Events) []rooms.Event {
	t.Helper()
	var rest []rooms.Event
	deadline := time.After(wait)
	for {
		select {
		case e, ok := <-ev.C:
			if !ok {
				return rest
			}
			rest = append(rest, e)
		case <-deadline:
			t.Fatalf("subscription still open after %s", wait)
		}
	}
}

func publish(t *testing.T, b rooms.Bus, e rooms.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func testBusOrder(t *testing.T, handle func() rooms.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := handle(), handle()
	subs := []*rooms.Events{a.Subscribe(ctx, 64), b.Subscribe(ctx, 64), b.Subscribe(ctx, 64)}
	const n = 50
	for i := range n {
		publish(t, a, event(i, "s-a"))
	}
	for si, sub := range subs {
		got := receive(t, sub, n)
		for i, e := range got {
			if want := event(i, "s-a"); e.Type != want.Type || e.Account != want.Account || e.SessionID != want.SessionID ||
				e.ParticipantID != want.ParticipantID || !e.At.Equal(want.At) {
				t.Fatalf("subscriber %d, event %d: %+v, want %+v", si, i, e, want)
			}
		}
	}
}

func testBusOneOrder(t *testing.T, handle func() rooms.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes := []rooms.Bus{handle(), handle()}
	const each = 40
	subs := []*rooms.Events{nodes[0].Subscribe(ctx, 2*each), nodes[1].Subscribe(ctx, 2*each)}
	var wg sync.WaitGroup
	for ni, n := range nodes {
		wg.Go(func() {
			for i := range each {
				if err := n.Publish(ctx, event(i, fmt.Sprintf("s-%d", ni))); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var first []rooms.Event
	for si, sub := range subs {
		got := receive(t, sub, 2*each)
		next := map[string]int{}
		for _, e := range got {
			want := fmt.Sprintf("p-%d", next[e.SessionID])
			if e.ParticipantID != want {
				t.Fatalf("subscriber %d: from %s got %s, want %s: a publisher's order was not kept", si, e.SessionID, e.ParticipantID, want)
			}
			next[e.SessionID]++
		}
		if first == nil {
			first = got
			continue
		}
		if !slices.EqualFunc(first, got, func(x, y rooms.Event) bool {
			return x.SessionID == y.SessionID && x.ParticipantID == y.ParticipantID
		}) {
			t.Fatalf("two subscribers saw the events in different orders")
		}
	}
}

func testBusAfterSubscribe(t *testing.T, handle func() rooms.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := handle(), handle()
	publish(t, a, event(0, "s-before")) // nobody listens yet: it goes nowhere
	sub := b.Subscribe(ctx, 8)
	publish(t, a, event(1, "s-after"))
	if got := receive(t, sub, 1)[0]; got.SessionID != "s-after" {
		t.Fatalf("first event seen: %+v, want the one published after Subscribe", got)
	}
	select {
	case e := <-sub.C:
		t.Fatalf("an unexpected event: %+v", e)
	default:
	}
}

func testBusSlowConsumer(t *testing.T, handle func() rooms.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := handle(), handle()
	const buffer, n = 4, 20
	slow := b.Subscribe(ctx, buffer)
	fast := b.Subscribe(ctx, n)
	other := a.Subscribe(ctx, n)
	// Publish never waits for the subscriber that does not read.
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Publish(ctx, event(i, "s-1")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Publish blocked behind a subscriber that does not read")
	}
	receive(t, fast, n)
	receive(t, other, n)
	rest := ended(t, slow)
	if len(rest) != buffer {
		t.Fatalf("the slow subscriber kept %d events, want its buffer of %d", len(rest), buffer)
	}
	for i, e := range rest {
		if e.ParticipantID != fmt.Sprintf("p-%d", i) {
			t.Fatalf("slow subscriber's event %d is %s", i, e.ParticipantID)
		}
	}
	if !errors.Is(slow.Err(), rooms.ErrSlowConsumer) {
		t.Fatalf("slow subscriber ended with %v, want ErrSlowConsumer", slow.Err())
	}
	// The others go on.
	publish(t, a, event(n, "s-1"))
	receive(t, fast, 1)
	receive(t, other, 1)
}

func testBusContextEnd(t *testing.T, handle func() rooms.Bus) {
	bus := handle()
	ctx, cancel := context.WithCancel(context.Background())
	sub := bus.Subscribe(ctx, 4)
	keep := bus.Subscribe(t.Context(), 4)
	cancel()
	ended(t, sub)
	if err := sub.Err(); err != nil {
		t.Fatalf("ended by its context with %v, want nil", err)
	}
	// Publishing after a subscriber left is fine, and reaches the others.
	publish(t, bus, event(1, "s-1"))
	receive(t, keep, 1)
}
