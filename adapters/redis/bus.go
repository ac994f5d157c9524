package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// DefaultHealthInterval is BusConfig.HealthInterval's default.
const DefaultHealthInterval = 5 * time.Second

// BusConfig configures Client.Bus. The zero value works.
type BusConfig struct {
	// HealthInterval: a subscription that has heard nothing for this long
	// pings Redis on its connection, and counts the connection as lost if
	// the answer does not come within another interval. Default
	// DefaultHealthInterval.
	HealthInterval time.Duration
}

// Bus is a rooms.Bus on Redis pub/sub: Publish is one PUBLISH of the event
// as JSON on the channel <prefix>rooms:events, and every Subscribe, on any
// node, has a connection of its own subscribed to it and a goroutine,
// owned by the subscription's context, that hands each message to the
// subscription with rooms.Events.Send, which never blocks. Redis delivers a
// channel's messages to every subscriber in the order it executed the
// PUBLISHes, so all subscribers see one order, and each publisher's events
// in the order it published them.
//
// Pub/sub keeps nothing: a subscription whose connection drops (Redis
// restarted, the network cut) may have missed events. It then waits, with
// a growing pause, until Redis answers again and ends with an
// *UnavailableError (errors.Is ErrUnavailable): the consumer resubscribes
// and resynchronises from the Store, as after ErrSlowConsumer. It does not
// end while Redis is still away, so a consumer that resubscribes at once
// does not spin. A Bus is safe for concurrent use.
type Bus struct {
	c       *Client
	channel string
	health  time.Duration
}

var _ rooms.Bus = (*Bus)(nil)

// Bus returns the rooms.Bus of this Client's prefix.
func (c *Client) Bus(cfg BusConfig) *Bus {
	return &Bus{c: c, channel: c.key("rooms:events"), health: cmp.Or(cfg.HealthInterval, DefaultHealthInterval)}
}

// Publish implements rooms.Bus.
func (b *Bus) Publish(ctx context.Context, e rooms.Event) error {
	msg, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return wrap("bus.Publish", b.c.rdb.Publish(ctx, b.channel, msg).Err())
}

// errEventsLost is why a subscription whose connection dropped ended.
var errEventsLost = errors.New("the subscription's connection dropped; events may have been lost")

// Subscribe implements rooms.Bus. It returns once Redis has confirmed the
// subscription (so every event published after it returns is delivered), or
// after the dial and read timeouts if Redis does not answer.
func (b *Bus) Subscribe(ctx context.Context, buffer int) *rooms.Events {
	ev := rooms.NewEvents(buffer)
	ps := b.c.rdb.Subscribe(ctx)
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	lost := ps.Subscribe(ctx, b.channel) != nil
	if !lost {
		// The confirmation is the first message on the connection.
		_, err := ps.ReceiveTimeout(ctx, b.c.cfg.ReadTimeout)
		lost = err != nil
	}
	go b.deliver(ctx, ps, stop, ev, lost)
	return ev
}

// deliver hands messages to ev until ctx ends, ev ends (a slow consumer),
// or the connection is lost.
func (b *Bus) deliver(ctx context.Context, ps *goredis.PubSub, stop func() bool, ev *rooms.Events, lost bool) {
	defer func() {
		stop()
		ps.Close()
	}()
	pinged := false
	for !lost {
		msg, err := ps.ReceiveTimeout(ctx, b.health)
		if ctx.Err() != nil {
			ev.End(nil)
			return
		}
		var ne net.Error
		switch m := msg.(type) {
		case nil:
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				lost = ps.Ping(ctx) != nil
			} else {
				lost = true
			}
			continue
		case *goredis.Message:
			var e rooms.Event
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
				b.c.log.Warn("redis bus: an undecodable event dropped", "err", err)
			} else if !ev.Send(e) {
				return // ended as a slow consumer
			}
		}
		pinged = false
	}
	// The connection dropped: events may have been missed. End once Redis
	// answers again, so that the consumer's new subscription works.
	ps.Close()
	pause := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			ev.End(nil)
			return
		case <-time.After(pause):
		}
		switch err := b.c.rdb.Ping(ctx).Err(); {
		case err == nil:
			ev.End(&UnavailableError{Op: "bus.Subscribe", Err: errEventsLost})
			return
		case errors.Is(err, goredis.ErrClosed): // the Client was closed: it will not come back
			ev.End(&UnavailableError{Op: "bus.Subscribe", Err: err})
			return
		}
		pause = min(2*pause, 2*time.Second)
	}
}
