package calling

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultSegmentEvents is the number of events a FileOutbox writes to one
// log segment before it starts the next.
const DefaultSegmentEvents = 4096

// FileOutboxConfig configures OpenFileOutbox.
type FileOutboxConfig struct {
	// Dir holds the outbox (required; created if missing, mode 0700). One
	// process at a time may open a directory.
	Dir string
	// Limit is the number of undelivered events kept; past it the oldest
	// is dropped, counted (Dropped) and logged. Default DefaultOutboxLimit.
	Limit int
	// SegmentEvents: events per log segment. A segment whose events are all
	// acknowledged is deleted. Default DefaultSegmentEvents.
	SegmentEvents int
	// Logger. Default: discard.
	Logger *slog.Logger
}

// FileOutbox is an Outbox in a directory: an append-only log of events
// split in segments (<first seq>.log, one JSON object a line, fsynced on
// every Append) and a log of acknowledged sequence numbers (acks). Opening
// it again after a crash or a restart yields every event not acknowledged;
// a line torn by a crash at the end of the last segment is discarded. Events
// acknowledged just before a crash may be delivered again (at least once).
// Undelivered events are also kept in memory. It is safe for concurrent use.
type FileOutbox struct {
	mu       sync.Mutex
	dir      string
	limit    int
	segMax   int
	log      *slog.Logger
	idx      pendingIndex
	segs     []*segment // in order; the last one is active
	active   *os.File
	acks     *os.File
	ackLines int
	dropped  uint64
	closed   bool
}

// segment is one log file: the events it holds and how many are not acknowledged.
type segment struct {
	first, last uint64
	count, open int
}

var _ Outbox = (*FileOutbox)(nil)

const ackFile = "acks"

// OpenFileOutbox opens (or creates) the outbox in cfg.Dir.
func OpenFileOutbox(cfg FileOutboxConfig) (*FileOutbox, error) {
	if cfg.Dir == "" || cfg.Limit < 0 || cfg.SegmentEvents < 0 {
		return nil, errors.New("calling: FileOutboxConfig needs Dir, and no negative limit")
	}
	if cfg.Limit == 0 {
		cfg.Limit = DefaultOutboxLimit
	}
	if cfg.SegmentEvents == 0 {
		cfg.SegmentEvents = DefaultSegmentEvents
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("calling: outbox dir: %w", err)
	}
	o := &FileOutbox{dir: cfg.Dir, limit: cfg.Limit, segMax: cfg.SegmentEvents, log: cfg.Logger, idx: pendingIndex{next: 1}}
	if err := o.load(); err != nil {
		return nil, err
	}
	acks, err := os.OpenFile(filepath.Join(o.dir, ackFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("calling: outbox acks: %w", err)
	}
	o.acks = acks
	o.compact()
	return o, nil
}

// load reads the acks, then every segment, into the index.
func (o *FileOutbox) load() error {
	acked := map[uint64]bool{}
	if b, err := os.ReadFile(filepath.Join(o.dir, ackFile)); err == nil {
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			if n, err := strconv.ParseUint(string(line), 10, 64); err == nil {
				acked[n] = true
				o.ackLines++
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("calling: outbox acks: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(o.dir, "*.log"))
	if err != nil {
		return err
	}
	var firsts []uint64
	for _, n := range names {
		if f, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".log"), 10, 64); err == nil && f > 0 {
			firsts = append(firsts, f)
		}
	}
	slices.Sort(firsts)
	for i, first := range firsts {
		seg, err := o.loadSegment(first, acked, i == len(firsts)-1)
		if err != nil {
			return err
		}
		o.segs = append(o.segs, seg)
		o.idx.next = max(o.idx.next, seg.last+1) // acknowledged events count too

	}
	if len(o.segs) > 0 {
		f, err := os.OpenFile(o.segPath(o.segs[len(o.segs)-1].first), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("calling: outbox segment: %w", err)
		}
		o.active = f
	}
	return nil
}

func (o *FileOutbox) segPath(first uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%020d.log", first))
}

func (o *FileOutbox) loadSegment(first uint64, acked map[uint64]bool, last bool) (*segment, error) {
	path := o.segPath(first)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calling: outbox segment: %w", err)
	}
	seg := &segment{first: first, last: first - 1}
	r := bufio.NewReader(bytes.NewReader(b))
	off := 0
	for {
		line, err := r.ReadBytes('\n')
		var e OutboxEvent
		if err != nil || json.Unmarshal(line, &e) != nil || e.Seq < first || e.Seq <= seg.last {
			if len(line) == 0 && err != nil {
				return seg, nil // clean end
			}
			if !last || r.Buffered() > 0 {
				return nil, fmt.Errorf("%w: %s at byte %d", ErrOutboxCorrupt, filepath.Base(path), off)
			}
			// A torn write at the very end: drop it.
			o.log.Warn("outbox: discarding a torn record at the end of the log", "segment", filepath.Base(path), "bytes", len(line))
			if err := os.Truncate(path, int64(off)); err != nil {
				return nil, fmt.Errorf("calling: outbox truncate: %w", err)
			}
			return seg, nil
		}
		off += len(line)
		seg.last, seg.count = e.Seq, seg.count+1
		if !acked[e.Seq] {
			seg.open++
			o.idx.insert(e)
		}
	}
}

// Append implements Outbox: the event is written and fsynced before it returns.
func (o *FileOutbox) Append(_ context.Context, e OutboxEvent) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, ErrOutboxClosed
	}
	if o.idx.undelivered >= o.limit {
		old := o.idx.dropOldest()
		o.dropped++
		o.log.Warn("outbox full; oldest undelivered event dropped", "id", old.ID, "type", old.Type, "key", old.Key,
			"limit", o.limit, "dropped", o.dropped)
		o.settle(old.Seq)
	}
	seq := o.idx.next
	if len(o.segs) == 0 || o.segs[len(o.segs)-1].count >= o.segMax {
		if err := o.rotate(seq); err != nil {
			return 0, err
		}
	}
	e.Seq = seq
	line, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	line = append(line, '\n')
	if _, err := o.active.Write(line); err != nil {
		return 0, fmt.Errorf("calling: outbox write: %w", err)
	}
	if err := o.active.Sync(); err != nil {
		return 0, fmt.Errorf("calling: outbox sync: %w", err)
	}
	seg := o.segs[len(o.segs)-1]
	seg.last, seg.count, seg.open = seq, seg.count+1, seg.open+1
	o.idx.add(e)
	return seq, nil
}

// rotate starts a new segment whose first event is seq.
func (o *FileOutbox) rotate(seq uint64) error {
	f, err := os.OpenFile(o.segPath(seq), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("calling: outbox segment: %w", err)
	}
	if o.active != nil {
		_ = o.active.Close()
	}
	o.active = f
	o.segs = append(o.segs, &segment{first: seq, last: seq - 1})
	syncDir(o.dir)
	o.compact()
	return nil
}

// Next implements Outbox.
func (o *FileOutbox) Next(_ context.Context, after uint64, max int) ([]OutboxEvent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrOutboxClosed
	}
	return o.idx.after(after, max), nil
}

// Ack implements Outbox. The acknowledgement is written but not fsynced:
// a crash may forget it, and the event is then delivered again.
func (o *FileOutbox) Ack(_ context.Context, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrOutboxClosed
	}
	if !o.idx.ack(seq) {
		return nil
	}
	return o.settle(seq)
}

// settle records seq as done and deletes the segments left with nothing open.
func (o *FileOutbox) settle(seq uint64) error {
	if _, err := o.acks.WriteString(strconv.FormatUint(seq, 10) + "\n"); err != nil {
		return fmt.Errorf("calling: outbox ack: %w", err)
	}
	o.ackLines++
	for _, s := range o.segs {
		if seq >= s.first && seq <= s.last {
			s.open--
			break
		}
	}
	if len(o.segs) > 1 && o.segs[0].open == 0 {
		o.compact()
	}
	return nil
}

// compact deletes finished segments (never the active one) and, when the
// acks log holds many lines, rewrites it with only the live ones.
func (o *FileOutbox) compact() {
	for len(o.segs) > 1 && o.segs[0].open == 0 {
		if err := os.Remove(o.segPath(o.segs[0].first)); err != nil && !errors.Is(err, os.ErrNotExist) {
			o.log.Error("outbox: remove segment", "err", err)
			return
		}
		o.segs = o.segs[1:]
	}
	if o.acks == nil || o.ackLines <= 2*o.segMax {
		return
	}
	// Keep only acknowledgements of events still in a segment.
	var buf bytes.Buffer
	n := 0
	if len(o.segs) > 0 {
		for seq := o.segs[0].first; seq <= o.segs[len(o.segs)-1].last; seq++ {
			if !o.live(seq) {
				buf.WriteString(strconv.FormatUint(seq, 10) + "\n")
				n++
			}
		}
	}
	tmp := filepath.Join(o.dir, ackFile+".tmp")
	if err := writeSynced(tmp, buf.Bytes()); err != nil {
		o.log.Error("outbox: rewrite acks", "err", err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(o.dir, ackFile)); err != nil {
		o.log.Error("outbox: rewrite acks", "err", err)
		return
	}
	syncDir(o.dir)
	f, err := os.OpenFile(filepath.Join(o.dir, ackFile), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		o.log.Error("outbox: reopen acks", "err", err)
		return
	}
	_ = o.acks.Close()
	o.acks, o.ackLines = f, n
}

// live reports whether seq is an undelivered event.
func (o *FileOutbox) live(seq uint64) bool {
	i := o.idx.find(seq)
	return i < len(o.idx.events) && o.idx.events[i].Seq == seq && !o.idx.acked[seq]
}

// Len is the number of undelivered events.
func (o *FileOutbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.idx.undelivered
}

// Dropped is the number of events dropped because the outbox was full.
func (o *FileOutbox) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// Close closes the files; the outbox can be opened again.
func (o *FileOutbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	var errs []error
	if o.active != nil {
		errs = append(errs, o.active.Close())
	}
	errs = append(errs, o.acks.Sync(), o.acks.Close())
	return errors.Join(errs...)
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a created, renamed or removed file name durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
