package recording

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures New. The zero Config works.
type Config struct {
	// Storage keeps files and metadata. Default: a FileStorage in a new
	// temporary folder (os.MkdirTemp), which suits tests and demos only.
	Storage Storage
	// Clock is the time source. Default: the real clock.
	Clock Clock
	// Logger receives failures (a file that cannot be written). Default: discards.
	Logger *slog.Logger
	// QueueSize is how many packets each track's queue holds before
	// WriteRTP drops (and the recording notes a gap). Default 1024
	// (about 20 s of audio, 2 s of high-rate video).
	QueueSize int
	// ReorderPackets is how many packets a track holds back to put late
	// ones in order before declaring the missing ones lost. Default 16.
	ReorderPackets int
	// FlushInterval: how often what was written reaches the disk (a whole
	// Ogg page or WebM block, then fsync). Default 1 s, so a crash loses at
	// most about 2 s.
	FlushInterval time.Duration
	// Codec makes the Opus decoders and the encoder of compositions.
	// Default: go-opus (pure Go).
	Codec Codec
}

// Recorder starts and stops the recordings of calls and rooms and owns
// their writers. Safe for concurrent use.
type Recorder struct {
	cfg  Config
	pool sync.Pool

	openOnce sync.Once
	openErr  error

	mu     sync.Mutex
	active map[string]*Active
	closed bool

	written atomic.Uint64 // Stats (stats.go)
}

// New returns a Recorder.
func New(cfg Config) (*Recorder, error) {
	if cfg.Storage == nil {
		dir, err := os.MkdirTemp("", "switchboard-recordings-")
		if err != nil {
			return nil, fmt.Errorf("recording: %w", err)
		}
		if cfg.Storage, err = NewFileStorage(dir); err != nil {
			return nil, err
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize < 0 || cfg.ReorderPackets < 0 || cfg.FlushInterval < 0 {
		return nil, errors.New("recording: negative QueueSize, ReorderPackets or FlushInterval")
	}
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 1024)
	cfg.ReorderPackets = min(cmp.Or(cfg.ReorderPackets, 16), 1000)
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, time.Second)
	if cfg.Codec == nil {
		cfg.Codec = goOpus{}
	}
	r := &Recorder{cfg: cfg, active: map[string]*Active{}}
	r.pool.New = func() any { return new(packet) }
	return r, nil
}

// Storage returns the recorder's storage (for the REST handler).
func (r *Recorder) Storage() Storage { return r.cfg.Storage }

func (r *Recorder) now() time.Time { return r.cfg.Clock.Now().UTC() }

// Open prepares the storage: recordings a killed process left in status
// recording are marked interrupted, with the duration their file really
// holds; their files are cut after the last whole page or block and marked
// finished, so they play to where the process stopped. It runs once (Start
// runs it when the host has not) and returns the recordings it repaired.
func (r *Recorder) Open(ctx context.Context) ([]*Recording, error) {
	var fixed []*Recording
	r.openOnce.Do(func() { fixed, r.openErr = r.recover(ctx) })
	return fixed, r.openErr
}

// Start starts recording a call or room as decided by the policy (a
// Decision from Resolve). A decision that records nothing is refused with
// a *PolicyError; a target already recorded with ErrAlreadyRecording.
func (r *Recorder) Start(ctx context.Context, t Target, d Decision) (*Active, error) {
	if !t.valid() {
		return nil, invalid("exactly one of callId and sessionId")
	}
	if !d.Record() {
		return nil, &PolicyError{Reason: cmp.Or(d.Reason, ReasonNotTriggered), Detail: d.Detail}
	}
	if _, err := r.Open(ctx); err != nil {
		r.cfg.Logger.Error("recording: repairing interrupted recordings", "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if _, ok := r.active[t.key()]; ok {
		return nil, ErrAlreadyRecording
	}
	actx, cancel := context.WithCancel(context.Background())
	a := &Active{
		r: r, target: t, typ: d.Type, composition: d.Composition, ctx: actx, cancel: cancel,
		files: map[string][]*participantFile{}, tracks: map[*TrackRecorder]struct{}{},
	}
	r.active[t.key()] = a
	return a, nil
}

// Active returns the running recording of the target, or nil.
func (r *Recorder) Active(t Target) *Active {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[t.key()]
}

func (r *Recorder) forget(a *Active) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[a.target.key()] == a {
		delete(r.active, a.target.key())
	}
}

// Close stops every running recording (as Active.Stop does) and refuses
// new ones.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	var all []*Active
	for _, a := range r.active {
		all = append(all, a)
	}
	r.mu.Unlock()
	var errs []error
	for _, a := range all {
		_, err := a.Stop(ctx)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
