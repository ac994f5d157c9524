package recording

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// Storage keeps recordings: their media files and their metadata. The
// package's default is FileStorage (a folder); an object-store adapter can
// implement it too. Implementations must be safe for concurrent use.
type Storage interface {
	// Create saves r (a new recording) and creates its empty media file,
	// open for writing.
	Create(ctx context.Context, r *Recording) (MediaFile, error)
	// Save replaces r's metadata, atomically: a reader sees the old or the
	// new version, never a mix, even across a crash.
	Save(ctx context.Context, r *Recording) error
	// List returns the recordings that match f, newest first (by StartedAt,
	// then ID), at most f.Limit of them (all when Limit is 0).
	List(ctx context.Context, f Filter) ([]*Recording, error)
	// Open opens r's media: read-only, or for writing when write is true
	// (repairing a file a killed process left).
	Open(ctx context.Context, r *Recording, write bool) (MediaFile, error)
	// Delete removes r's media and metadata. Deleting what is not there is
	// ErrNotFound.
	Delete(ctx context.Context, r *Recording) error
}

// MediaFile is an open media file; *os.File implements it.
type MediaFile interface {
	io.ReadWriteSeeker
	io.ReaderAt
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
}

// Filter selects recordings. Zero fields match everything.
type Filter struct {
	// Account the recordings belong to; required unless AnyAccount.
	Account    string
	AnyAccount bool
	ID         string
	SessionID  string
	CallID     string
	Identity   string
	Status     Status
	// From and To bound StartedAt: From <= StartedAt < To.
	From, To time.Time
	// After continues a listing: only recordings that come after this one
	// in the order of List (older, or as old with a smaller ID).
	After *Position
	// Limit is the most recordings returned; 0 is no limit.
	Limit int
}

// Position is a recording's place in the order of List.
type Position struct {
	StartedAt time.Time
	ID        string
}

// before reports whether r comes after p in List's order (newest first).
func (p *Position) before(r *Recording) bool {
	if !r.StartedAt.Equal(p.StartedAt) {
		return r.StartedAt.Before(p.StartedAt)
	}
	return r.ID < p.ID
}

// Match reports whether r passes f (the Limit aside). Storage
// implementations may use it.
func (f *Filter) Match(r *Recording) bool {
	switch {
	case !f.AnyAccount && r.Account != f.Account,
		f.ID != "" && r.ID != f.ID,
		f.SessionID != "" && r.SessionID != f.SessionID,
		f.CallID != "" && r.CallID != f.CallID,
		f.Identity != "" && r.Identity != f.Identity,
		f.Status != "" && r.Status != f.Status,
		!f.From.IsZero() && r.StartedAt.Before(f.From),
		!f.To.IsZero() && !r.StartedAt.Before(f.To),
		f.After != nil && !f.After.before(r):
		return false
	}
	return true
}

// newer orders recordings as List returns them: newest first.
func newer(a, b *Recording) int {
	if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
		return c
	}
	switch {
	case a.ID > b.ID:
		return -1
	case a.ID < b.ID:
		return 1
	}
	return 0
}
