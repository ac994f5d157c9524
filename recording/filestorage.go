package recording

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// FileStorage keeps recordings in one folder: each recording's media as
// <id>.ogg or <id>.webm and its metadata as <id>.json, written to a
// temporary file, synced, then renamed over the old one, so a crash leaves
// either version. The metadata is also held in memory, so List reads no
// file. Safe for concurrent use; one process per folder.
type FileStorage struct {
	dir   string
	mu    sync.Mutex
	index map[string]*Recording
}

var _ Storage = (*FileStorage)(nil)

// fileRecord is the metadata file: the recording and its account.
type fileRecord struct {
	Account string `json:"account"`
	*Recording
}

// NewFileStorage opens (creating it if needed) the folder dir and reads
// the metadata of the recordings in it. A metadata file that cannot be read
// is skipped (and left in place); leftover temporary files are removed.
func NewFileStorage(dir string) (*FileStorage, error) {
	if dir == "" {
		return nil, errors.New("recording: FileStorage needs a folder")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	s := &FileStorage{dir: dir, index: map[string]*Recording{}}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".tmp-") {
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || !validID(id) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		fr := fileRecord{Recording: &Recording{}}
		if json.Unmarshal(b, &fr) != nil || fr.ID != id {
			continue
		}
		fr.Recording.Account = fr.Account
		s.index[id] = fr.Recording
	}
	return s, nil
}

// Dir returns the folder.
func (s *FileStorage) Dir() string { return s.dir }

func (s *FileStorage) mediaPath(r *Recording) string {
	ext := ".ogg"
	if r.Format == FormatWebM {
		ext = ".webm"
	}
	return filepath.Join(s.dir, r.ID+ext)
}

// Create implements Storage.
func (s *FileStorage) Create(ctx context.Context, r *Recording) (MediaFile, error) {
	if !validID(r.ID) {
		return nil, invalid("recording id")
	}
	s.mu.Lock()
	_, exists := s.index[r.ID]
	s.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("recording: %s exists", r.ID)
	}
	f, err := os.OpenFile(s.mediaPath(r), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	if err := s.Save(ctx, r); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// Save implements Storage.
func (s *FileStorage) Save(_ context.Context, r *Recording) error {
	if !validID(r.ID) {
		return invalid("recording id")
	}
	b, err := json.MarshalIndent(fileRecord{Account: r.Account, Recording: r}, "", "  ")
	if err != nil {
		return err
	}
	// Writing under the lock keeps the file and the index in the same order
	// when two saves of one recording race.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeAtomic(s.dir, r.ID+".json", b); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	s.index[r.ID] = r.clone()
	return nil
}

// writeAtomic writes name in dir through a synced temporary file and a rename.
func writeAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, ".tmp-"+strings.ToLower(rand.Text()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil { // the rename itself reaches the disk
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// List implements Storage.
func (s *FileStorage) List(_ context.Context, f Filter) ([]*Recording, error) {
	s.mu.Lock()
	var out []*Recording
	for _, r := range s.index {
		if f.Match(r) {
			out = append(out, r.clone())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, newer)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Open implements Storage.
func (s *FileStorage) Open(_ context.Context, r *Recording, write bool) (MediaFile, error) {
	s.mu.Lock()
	ir, ok := s.index[r.ID]
	s.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(s.mediaPath(ir), flag, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return f, nil
}

// Delete implements Storage: the metadata goes first, so a crash between
// the two leaves an orphan media file rather than metadata without media.
func (s *FileStorage) Delete(_ context.Context, r *Recording) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ir, ok := s.index[r.ID]
	if !ok {
		return ErrNotFound
	}
	if err := os.Remove(filepath.Join(s.dir, r.ID+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording: %w", err)
	}
	delete(s.index, r.ID)
	if err := os.Remove(s.mediaPath(ir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}
