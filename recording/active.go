package recording

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Target is the call or room a recording is of: exactly one of CallID and
// SessionID is set.
type Target struct {
	Account   string
	CallID    string
	SessionID string
}

func (t Target) key() string { return t.Account + "\x00" + t.CallID + "\x00" + t.SessionID }

func (t Target) valid() bool { return (t.CallID == "") != (t.SessionID == "") }

// TrackInfo describes a published track to record (what the SFU's
// track-published seam hands the host).
type TrackInfo struct {
	ParticipantID string
	Identity      string
	StreamAlias   string
	// Kind is "audio" or "video".
	Kind string
	// Codec is the codec negotiated with the publisher: Opus for audio, VP8
	// for video are recorded; anything else is refused with
	// ErrUnsupportedCodec and named in the recording's Unsupported list.
	Codec webrtc.RTPCodecParameters
	// RequestKeyframe asks the publisher for a keyframe (video); optional.
	RequestKeyframe func()
}

// Active is the recording of one call or room, from Recorder.Start to
// Stop: it makes a file per participant as their tracks arrive and, when
// composition is on, mixes their audio into one file at Stop. Safe for
// concurrent use.
type Active struct {
	r           *Recorder
	target      Target
	typ         Type
	composition bool
	ctx         context.Context
	cancel      context.CancelFunc

	mu       sync.Mutex
	files    map[string][]*participantFile // by participant id and identity
	order    []*participantFile            // every file, in creation order
	tracks   map[*TrackRecorder]struct{}
	stopped  bool
	wg       sync.WaitGroup
	finished []*Recording
}

// Target returns what is recorded.
func (a *Active) Target() Target { return a.target }

// Type returns what is recorded: AUDIO or AUDIO_AND_VIDEO.
func (a *Active) Type() Type { return a.typ }

// StartTrack starts recording a published track into its participant's
// file, until ctx ends or the TrackRecorder is closed. Attach the result to
// the track as its sink. A video track of an AUDIO recording is refused
// with ErrNotRecorded; a codec other than Opus or VP8 with
// ErrUnsupportedCodec (the participant's recording lists it).
func (a *Active) StartTrack(ctx context.Context, info TrackInfo) (*TrackRecorder, error) {
	if info.Kind != KindAudio && info.Kind != KindVideo {
		return nil, invalid("track kind must be audio or video")
	}
	if info.Kind == KindVideo && a.typ != TypeAudioAndVideo {
		return nil, ErrNotRecorded
	}
	mime := strings.ToLower(info.Codec.MimeType)
	supported := info.Kind == KindAudio && mime == strings.ToLower(webrtc.MimeTypeOpus) ||
		info.Kind == KindVideo && mime == strings.ToLower(webrtc.MimeTypeVP8)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil, ErrClosed
	}
	pf := a.fileFor(info)
	if !supported {
		pf.note(fmt.Sprintf("%s/%s: not recorded (recorded: audio/opus, video/VP8)", info.Kind, strings.TrimPrefix(strings.TrimPrefix(mime, "audio/"), "video/")))
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, info.Codec.MimeType)
	}
	tctx, cancel := context.WithCancel(a.ctx)
	stop := context.AfterFunc(ctx, cancel)
	t := &TrackRecorder{
		pf:       pf,
		kind:     info.Kind,
		keyframe: info.RequestKeyframe,
		queue:    make(chan *packet, a.r.cfg.QueueSize),
		pool:     &a.r.pool,
		clock:    a.r.cfg.Clock,
		cancel:   func() { stop(); cancel() },
		done:     make(chan struct{}),
		tick:     make(chan struct{}, 1),
		order:    reorder{max: a.r.cfg.ReorderPackets, dropped: func(p *packet) { a.r.pool.Put(p) }},
		tclock:   trackClock{rate: opusRate},
	}
	if info.Kind == KindVideo {
		t.tclock.rate = 90000
		t.vp8 = newVP8Assembler()
		if t.keyframe != nil {
			t.keyframe()
		}
	}
	if !pf.attach(t) {
		pf = a.newFile(info)
		t.pf = pf
		pf.attach(t)
	}
	a.tracks[t] = struct{}{}
	a.wg.Add(1)
	go t.run(tctx, a)
	return t, nil
}

// fileFor returns the participant's latest file, or a new one. Called
// with a.mu held.
func (a *Active) fileFor(info TrackInfo) *participantFile {
	if fs := a.files[info.ParticipantID+"\x00"+info.Identity]; len(fs) > 0 {
		if pf := fs[len(fs)-1]; !pf.isFinished() {
			return pf
		}
	}
	return a.newFile(info)
}

func (a *Active) newFile(info TrackInfo) *participantFile {
	rec := &Recording{
		ID: newID(), Account: a.target.Account, CallID: a.target.CallID, SessionID: a.target.SessionID,
		ParticipantID: info.ParticipantID, Identity: info.Identity, Type: a.typ,
		Format: FormatOgg, StartedAt: a.r.now(), Status: StatusRecording,
	}
	if a.typ == TypeAudioAndVideo {
		rec.Format = FormatWebM
	}
	pf := &participantFile{a: a, rec: rec}
	key := info.ParticipantID + "\x00" + info.Identity
	a.files[key] = append(a.files[key], pf)
	a.order = append(a.order, pf)
	return pf
}

func (pf *participantFile) isFinished() bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return pf.finished || pf.closing
}

// trackDone is called by a track's writer goroutine as it ends.
func (a *Active) trackDone(t *TrackRecorder) {
	defer a.wg.Done()
	last := t.pf.detach(t)
	a.mu.Lock()
	delete(a.tracks, t)
	a.mu.Unlock()
	if last {
		if rec := t.pf.finish(); rec != nil {
			a.mu.Lock()
			a.finished = append(a.finished, rec)
			a.mu.Unlock()
		}
	}
}

// Stop ends the recording: every track's writer finishes what is queued,
// every file is finished, and with composition on, the participants'
// audio is mixed into one more recording (this takes a while for a long
// call: decoding and encoding run at some hundred times real time). It
// returns the recordings made. Stop is idempotent; later calls return nil.
func (a *Active) Stop(ctx context.Context) ([]*Recording, error) {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return nil, nil
	}
	a.stopped = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	a.r.forget(a)
	a.mu.Lock()
	for _, pf := range a.order {
		if rec := pf.finish(); rec != nil { // files whose tracks never wrote
			a.finished = append(a.finished, rec)
		}
	}
	out := append([]*Recording(nil), a.finished...)
	a.mu.Unlock()
	if !a.composition {
		return out, nil
	}
	comp, err := a.r.compose(ctx, a.target, out)
	if comp != nil {
		out = append(out, comp)
	}
	return out, err
}
