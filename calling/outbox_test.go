package calling_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/calling"
)

func seqs(t *testing.T, box calling.Outbox, after uint64) []uint64 {
	t.Helper()
	evs, err := box.Next(context.Background(), after, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func appendN(t *testing.T, box calling.Outbox, n int) {
	t.Helper()
	for i := range n {
		if _, err := box.Append(context.Background(), calling.OutboxEvent{ID: "msg_" + string(rune('a'+i%26)), Key: "k", Type: "t", Body: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
}

// At the limit nothing is dropped; one past it the oldest undelivered event
// is dropped, counted and logged.
func TestMemoryOutboxLimit(t *testing.T) {
	var logs bytes.Buffer
	box, err := calling.NewMemoryOutbox(calling.MemoryOutboxConfig{Limit: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, box, 3)
	if box.Dropped() != 0 || box.Len() != 3 || logs.Len() != 0 {
		t.Fatalf("at the limit: dropped %d, len %d, log %q", box.Dropped(), box.Len(), logs.String())
	}
	appendN(t, box, 1)
	if box.Dropped() != 1 || box.Len() != 3 {
		t.Fatalf("one past the limit: dropped %d, len %d", box.Dropped(), box.Len())
	}
	eq(t, "after a drop", seqs(t, box, 0), 2, 3, 4)
	if !strings.Contains(logs.String(), "dropped") || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("log %q", logs.String())
	}
	// An acknowledged event frees its place.
	_ = box.Ack(context.Background(), 3)
	appendN(t, box, 1)
	if box.Dropped() != 1 {
		t.Fatalf("dropped %d after an ack made room", box.Dropped())
	}
	eq(t, "after an ack", seqs(t, box, 0), 2, 4, 5)
	if _, err := calling.NewMemoryOutbox(calling.MemoryOutboxConfig{Limit: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
}

func TestMemoryOutboxAckOutOfOrder(t *testing.T) {
	box, _ := calling.NewMemoryOutbox(calling.MemoryOutboxConfig{})
	appendN(t, box, 5)
	ctx := context.Background()
	_ = box.Ack(ctx, 3)
	_ = box.Ack(ctx, 1)
	_ = box.Ack(ctx, 1) // twice
	_ = box.Ack(ctx, 99)
	eq(t, "all", seqs(t, box, 0), 2, 4, 5)
	eq(t, "after 2", seqs(t, box, 2), 4, 5)
	if evs, _ := box.Next(ctx, 0, 1); len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("max 1: %+v", evs)
	}
	_ = box.Ack(ctx, 2)
	_ = box.Ack(ctx, 4)
	_ = box.Ack(ctx, 5)
	if box.Len() != 0 || len(seqs(t, box, 0)) != 0 {
		t.Fatalf("len %d after acking all", box.Len())
	}
}

func openFile(t *testing.T, cfg calling.FileOutboxConfig) *calling.FileOutbox {
	t.Helper()
	box, err := calling.OpenFileOutbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = box.Close() })
	return box
}

// Unacknowledged events survive a reopen, in order, and numbering goes on.
func TestFileOutboxReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	box := openFile(t, calling.FileOutboxConfig{Dir: dir, SegmentEvents: 2})
	appendN(t, box, 5)
	_ = box.Ack(ctx, 2)
	_ = box.Ack(ctx, 4)
	_ = box.Close()
	if _, err := box.Append(ctx, calling.OutboxEvent{}); err == nil {
		t.Fatal("append after close")
	}

	box = openFile(t, calling.FileOutboxConfig{Dir: dir, SegmentEvents: 2})
	eq(t, "reopened", seqs(t, box, 0), 1, 3, 5)
	evs, _ := box.Next(ctx, 0, 1)
	if evs[0].ID != "msg_a" || evs[0].Key != "k" || string(evs[0].Body) != `{"n":1}` {
		t.Fatalf("event %+v", evs[0])
	}
	if seq, _ := box.Append(ctx, calling.OutboxEvent{ID: "x"}); seq != 6 {
		t.Fatalf("next seq %d, want 6", seq)
	}
	for _, s := range []uint64{1, 3, 5, 6} {
		_ = box.Ack(ctx, s)
	}
	appendN(t, box, 1)
	_ = box.Ack(ctx, 7)
	// Every finished segment is deleted; only the active one is left.
	if logs, _ := filepath.Glob(filepath.Join(dir, "*.log")); len(logs) != 1 {
		t.Fatalf("segments left: %v", logs)
	}
	_ = box.Close()
	box = openFile(t, calling.FileOutboxConfig{Dir: dir, SegmentEvents: 2})
	if box.Len() != 0 {
		t.Fatalf("%d events after acking all", box.Len())
	}
	if seq, _ := box.Append(ctx, calling.OutboxEvent{}); seq != 8 {
		t.Fatalf("next seq %d, want 8", seq)
	}
}

// A record torn by a crash at the end of the log is discarded; one in the
// middle is an error.
func TestFileOutboxTornWrite(t *testing.T) {
	dir := t.TempDir()
	box := openFile(t, calling.FileOutboxConfig{Dir: dir})
	appendN(t, box, 2)
	_ = box.Close()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	f, _ := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"seq":3,"id":"msg_`)
	_ = f.Close()
	box = openFile(t, calling.FileOutboxConfig{Dir: dir})
	eq(t, "after a torn write", seqs(t, box, 0), 1, 2)
	if seq, _ := box.Append(context.Background(), calling.OutboxEvent{}); seq != 3 {
		t.Fatalf("seq %d", seq)
	}
	_ = box.Close()

	b, _ := os.ReadFile(logs[0])
	_ = os.WriteFile(logs[0], append([]byte("garbage\n"), b...), 0o600)
	if _, err := calling.OpenFileOutbox(calling.FileOutboxConfig{Dir: dir}); err == nil {
		t.Fatal("corrupt log accepted")
	}
}

// The file outbox has the same bound as the memory one, and a drop is durable.
func TestFileOutboxLimit(t *testing.T) {
	dir := t.TempDir()
	box := openFile(t, calling.FileOutboxConfig{Dir: dir, Limit: 2})
	appendN(t, box, 2)
	if box.Dropped() != 0 {
		t.Fatal("dropped at the limit")
	}
	appendN(t, box, 1)
	if box.Dropped() != 1 {
		t.Fatalf("dropped %d one past the limit", box.Dropped())
	}
	_ = box.Close()
	box = openFile(t, calling.FileOutboxConfig{Dir: dir, Limit: 2})
	eq(t, "reopened", seqs(t, box, 0), 2, 3)
}
