package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// Network trouble and a server that cannot serve now are ErrUnavailable; a
// reply that says the request was wrong is not (a bug, 500); the caller's
// own cancellation stays itself.
func TestWrapClassifies(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		err         error
		unavailable bool
	}{
		{refused, true},
		{io.EOF, true},
		{goredis.ErrPoolTimeout, true},
		{context.DeadlineExceeded, true},
		{replyError("LOADING Redis is loading the dataset in memory"), true},
		{replyError("READONLY You can't write against a read only replica."), true},
		{replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{replyError("ERR syntax error"), false},
		{context.Canceled, false},
	} {
		err := wrap("op", tc.err)
		if got := errors.Is(err, ErrUnavailable); got != tc.unavailable {
			t.Errorf("wrap(%v): unavailable %v, want %v", tc.err, got, tc.unavailable)
		}
		if u, ok := err.(interface{ Unavailable() bool }); ok != tc.unavailable || ok && !u.Unavailable() {
			t.Errorf("wrap(%v): Unavailable method %v", tc.err, ok)
		}
	}
	if wrap("op", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
	if !errors.Is(wrap("op", context.Canceled), context.Canceled) {
		t.Error("the caller's cancellation is lost")
	}
	c := &conflictError{"rooms.Update"}
	if !errors.Is(c, ErrConflict) || errors.Is(c, ErrUnavailable) || !c.Unavailable() {
		t.Error("a conflict must match ErrConflict only, and map to 503")
	}
}
