package recording

import (
	"crypto/rand"
	"strings"
	"time"
)

// Status is where a recording is in its life.
type Status string

// Statuses.
const (
	// StatusRecording: media is being written.
	StatusRecording Status = "recording"
	// StatusCompleted: the recording was stopped and its file finished.
	StatusCompleted Status = "completed"
	// StatusInterrupted: the process ended while recording (found at the
	// next start); the file plays up to where it stopped.
	StatusInterrupted Status = "interrupted"
	// StatusFailed: the file could not be written.
	StatusFailed Status = "failed"
)

// Format is the container of a recording's media.
type Format string

// Formats.
const (
	// FormatOgg is Ogg Opus (audio/ogg): audio-only recordings and compositions.
	FormatOgg Format = "ogg"
	// FormatWebM is WebM with Opus and VP8 (video/webm): audio-and-video recordings.
	FormatWebM Format = "webm"
)

// ContentType returns the media type of the format.
func (f Format) ContentType() string {
	if f == FormatWebM {
		return "video/webm"
	}
	return "audio/ogg"
}

// Recording is the metadata of one recording: one participant's media in
// a call or room, or the composition (the mixed audio) of a call or room.
// A Recording handed out by this package is a copy the caller may keep.
type Recording struct {
	ID string `json:"id"`
	// Account owns the recording; it is not shown in the REST API.
	Account string `json:"-"`
	// CallID or SessionID: what was recorded (one of them is set).
	CallID    string `json:"callId,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// ParticipantID and Identity of the participant recorded; empty for a composition.
	ParticipantID string `json:"participantId,omitempty"`
	Identity      string `json:"identity,omitempty"`
	// Composition: the mixed audio of every participant.
	Composition bool   `json:"composition,omitempty"`
	Type        Type   `json:"type"`
	Format      Format `json:"format"`
	// StartedAt is when the first media arrived (for a composition: the
	// earliest participant's start); EndedAt when the file was finished.
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	// DurationMs is the length of the media.
	DurationMs int64  `json:"durationMs"`
	Bytes      int64  `json:"bytes"`
	Status     Status `json:"status"`
	// Gaps are stretches of a track with no media (packets lost on the
	// network or dropped because the recorder fell behind), the first
	// MaxGaps of them; LostPackets and DroppedPackets count all.
	Gaps           []Gap `json:"gaps,omitempty"`
	LostPackets    int64 `json:"lostPackets,omitempty"`
	DroppedPackets int64 `json:"droppedPackets,omitempty"`
	// Unsupported lists the tracks not recorded, with why (e.g. "video/H264:
	// only VP8 video is recorded").
	Unsupported []string `json:"unsupported,omitempty"`
	// Error says why a recording failed.
	Error string `json:"error,omitempty"`
}

// MaxGaps is how many gaps a recording's metadata lists.
const MaxGaps = 100

// Gap is a stretch of one track with no media.
type Gap struct {
	// Track is "audio" or "video".
	Track string `json:"track"`
	// AtMs is where the gap starts, from the start of the file.
	AtMs int64 `json:"atMs"`
	// Packets missing; DurationMs when the track's timestamps tell it.
	Packets    int64 `json:"packets"`
	DurationMs int64 `json:"durationMs,omitempty"`
	// Reason is "packet_loss", "queue_overflow" (the recorder fell behind
	// and dropped packets rather than slow forwarding down) or "late".
	Reason string `json:"reason"`
}

// Gap reasons.
const (
	GapPacketLoss    = "packet_loss"
	GapQueueOverflow = "queue_overflow"
	// GapLate: a WebM frame that reached the writer after the file had
	// moved past its time (its track's writer stalled for more than half a
	// second); it is dropped.
	GapLate = "late"
)

// clone returns a deep copy.
func (r *Recording) clone() *Recording {
	c := *r
	c.Gaps = append([]Gap(nil), r.Gaps...)
	c.Unsupported = append([]string(nil), r.Unsupported...)
	if r.EndedAt != nil {
		t := *r.EndedAt
		c.EndedAt = &t
	}
	return &c
}

// newID returns a random recording id.
func newID() string { return "r-" + strings.ToLower(rand.Text()) }

// validID reports whether id could be one of ours (safe as a file name).
func validID(id string) bool {
	if len(id) < 3 || len(id) > 64 || !strings.HasPrefix(id, "r-") {
		return false
	}
	for _, c := range id[2:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
