package recording

import "sync/atomic"

// Stats are a Recorder's figures for metrics: Active is the current
// count, BytesWritten only grows from New.
type Stats struct {
	// Active are the recordings running (Start to Stop).
	Active int
	// BytesWritten counts the bytes the Recorder's writers handed to the
	// Storage's media files: participant files and compositions, header
	// rewrites included (so a little more than the files' sizes).
	BytesWritten uint64
}

// Stats returns the Recorder's figures. Safe for concurrent use.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	active := len(r.active)
	r.mu.Unlock()
	return Stats{Active: active, BytesWritten: r.written.Load()}
}

// countingFile is a MediaFile that adds the bytes written to n.
type countingFile struct {
	MediaFile
	n *atomic.Uint64
}

func (f countingFile) Write(p []byte) (int, error) {
	n, err := f.MediaFile.Write(p)
	f.n.Add(uint64(n))
	return n, err
}

func (f countingFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.MediaFile.WriteAt(p, off)
	f.n.Add(uint64(n))
	return n, err
}

// counted wraps a media file the Recorder writes so its bytes are counted.
func (r *Recorder) counted(f MediaFile) MediaFile { return countingFile{f, &r.written} }
