package calling

import (
	"context"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// QualityMonitor scores the network quality of each participant, per
// direction, from what the SFU sees (Config.Quality). The Server feeds it
// and ticks it; the levels come back from the host by
// Server.NetworkQualityChanged. Its method set is that of
// *netquality.Monitor, so a host passes one as it is (docs/netquality.md);
// its types are the standard library's and pion's, so neither package
// imports the other. Implementations must be safe for concurrent use.
type QualityMonitor interface {
	// Join starts scoring a participant when it enters a session; Remove
	// stops when it leaves. After Remove returns no change about the
	// participant may be reported (one reported anyway is dropped).
	Join(participantID, identity string)
	Remove(participantID string)
	// AttachUplink measures a track the participant publishes: write is
	// attached as a probe of the track (sfu.Track.Observe: the forwarded
	// packets, in order, on the track's reader goroutine, so it must return
	// at once) until detach. stream names the
	// track on the server ("<participant id>/<stream alias>"); mimeType,
	// clockRate and eventPayloadTypes are its codec and its RFC 4733
	// telephone-event payload types. The Server detaches it while the
	// track is muted and attaches a new one when it is unmuted.
	AttachUplink(participantID, stream, mimeType string, clockRate uint32, eventPayloadTypes []uint8) (write func(h *rtp.Header, payload []byte) error, detach func(), err error)
	// AttachDownlink measures a track the server sends the participant:
	// report receives the RTCP packets holding sender or receiver reports
	// that the participant sends about it (an sfu.Feedback's RTCPSink, on
	// the goroutine of the participant's PeerConnection that reads its
	// RTCP) until detach. stream names the
	// published track as in AttachUplink; ssrc is the stream's SSRC as the
	// participant receives it.
	AttachDownlink(participantID, stream string, ssrc uint32, mimeType string, clockRate uint32) (report func(pkts []rtcp.Packet) error, detach func(), err error)
	// Tick takes a sample of every participant; the Server calls it every
	// Config.QualityInterval on its Clock.
	Tick(at time.Time)
}

// QualityChange is a change of the level of one direction of a
// participant's network quality, as a QualityMonitor found it; the host
// hands it to Server.NetworkQualityChanged. Levels are the protocol's
// (protocol.QualityExcellent ... protocol.QualityBad, QualityUnknown).
type QualityChange struct {
	ParticipantID string
	// Direction is the direction whose level changed: protocol.DirectionUplink
	// or protocol.DirectionDownlink.
	Direction string
	// Level and MOS are the participant's overall level and score: the
	// worse of its directions'.
	Level string
	MOS   float64
	// Uplink and Downlink are each direction's level and figures.
	Uplink, Downlink protocol.LinkQuality
}

// QualityEvent is a change of a participant's network quality, for hooks
// (QualityHooks) and webhooks (event participant.quality).
type QualityEvent struct {
	Account       string `json:"account"`
	SessionID     string `json:"sessionId"`
	CallID        string `json:"callId,omitempty"`
	ParticipantID string `json:"participantId"`
	Identity      string `json:"identity"`
	// Direction is the direction whose level changed ("uplink" or
	// "downlink"); Level and MOS are the overall ones (the worse
	// direction's); Uplink and Downlink each direction's.
	Direction string               `json:"direction"`
	Level     string               `json:"level"`
	MOS       float64              `json:"mos"`
	Uplink    protocol.LinkQuality `json:"uplink"`
	Downlink  protocol.LinkQuality `json:"downlink"`
	At        time.Time            `json:"at"`
}

// QualityHooks is implemented by Hooks that also want the changes of
// participants' network quality (with Config.Quality set). It is separate
// from Hooks so that Hooks written before it need no change: the Server
// checks for it with a type assertion. *Webhooks and NopHooks implement
// it. Events of one session arrive in order, like participant events.
type QualityHooks interface {
	QualityChanged(ctx context.Context, e QualityEvent)
}

var (
	_ QualityHooks = (*Webhooks)(nil)
	_ QualityHooks = NopHooks{}
)

// DefaultQualityInterval is how often a Server ticks Config.Quality.
const DefaultQualityInterval = time.Second

// qualityParts are the participants a Server reports quality changes
// about: the current connection of each, where it is, its latest level.
type qualityParts struct {
	mu    sync.Mutex
	parts map[string]*qualityPart // by participant id
}

type qualityPart struct {
	p                *peer
	room             *room
	account, session string
	identity, callID string
	level            string // the latest overall level; "" before the first change
	up, down         string // the latest level of each direction (Stats); "" before the first change
}

// NetworkQualityChanged sends a change of a participant's network quality
// to it (networkQuality), to the others in its call or room
// (participantNetworkQuality) and to the hooks (QualityHooks). A change
// about a participant that is not connected here (or has left) is dropped:
// nothing about a participant is sent after its participantLeft. It never
// blocks on a client or a hook; call it from the QualityMonitor's change
// callback.
func (s *Server) NetworkQualityChanged(c QualityChange) {
	s.quality.mu.Lock()
	defer s.quality.mu.Unlock() // held while queueing, so a concurrent leave is ordered after
	qp := s.quality.parts[c.ParticipantID]
	if qp == nil {
		return
	}
	qp.level, qp.up, qp.down = c.Level, c.Uplink.Level, c.Downlink.Level
	up, down := c.Uplink, c.Downlink
	qp.p.send(&protocol.Message{Type: protocol.TypeNetworkQuality, Level: c.Level, MOS: c.MOS, Uplink: &up, Downlink: &down})
	level := up.Level
	if c.Direction == protocol.DirectionDownlink {
		level = down.Level
	}
	for _, o := range qp.room.others(qp.p) {
		o.p.send(&protocol.Message{Type: protocol.TypeParticipantNetworkQuality, ParticipantID: c.ParticipantID,
			Identity: qp.identity, Level: level, Direction: c.Direction})
	}
	if _, ok := s.cfg.Hooks.(QualityHooks); !ok {
		return
	}
	ev := QualityEvent{Account: qp.account, SessionID: qp.session, CallID: qp.callID, ParticipantID: c.ParticipantID,
		Identity: qp.identity, Direction: c.Direction, Level: c.Level, MOS: c.MOS, Uplink: up, Downlink: down, At: s.clock.Now()}
	s.hook(func(ctx context.Context, h Hooks) {
		if qh, ok := h.(QualityHooks); ok {
			qh.QualityChanged(ctx, ev)
		}
	})
}

// NetworkQuality returns the current overall network quality level of a
// participant connected here ("EXCELLENT" ... "BAD"), and false when it is
// not connected to this server in account or has not been scored yet. It
// serves rooms.HandlerConfig.Quality.
func (s *Server) NetworkQuality(account, participantID string) (string, bool) {
	s.quality.mu.Lock()
	defer s.quality.mu.Unlock()
	qp := s.quality.parts[participantID]
	if qp == nil || qp.account != account || qp.level == "" || qp.level == protocol.QualityUnknown {
		return "", false
	}
	return qp.level, true
}

// qualityJoin starts scoring p's participant in room r (on p's loop, once
// it is in the room). A connection that replaces another starts afresh.
func (s *Server) qualityJoin(p *peer, r *room) {
	q := s.cfg.Quality
	if q == nil {
		return
	}
	qp := &qualityPart{p: p, room: r, account: p.claims.Account, session: r.key.session, identity: p.identity}
	if p.call != nil {
		qp.callID = p.call.ID
	}
	s.quality.mu.Lock()
	_, replaced := s.quality.parts[p.pid]
	s.quality.parts[p.pid] = qp
	s.quality.mu.Unlock()
	if replaced {
		q.Remove(p.pid)
	}
	q.Join(p.pid, p.identity)
}

// qualityLeave stops scoring p's participant (on p's loop, before the
// others are told it left), unless another connection has replaced p.
func (s *Server) qualityLeave(p *peer) {
	q := s.cfg.Quality
	if q == nil {
		return
	}
	s.quality.mu.Lock()
	qp := s.quality.parts[p.pid]
	current := qp != nil && qp.p == p
	if current {
		delete(s.quality.parts, p.pid)
	}
	s.quality.mu.Unlock()
	if current {
		q.Remove(p.pid)
	}
}

// tickQuality ticks Config.Quality every QualityInterval on the Server's
// clock until the Server closes; each timer only signals this goroutine.
func (s *Server) tickQuality() {
	defer s.wg.Done()
	tick := make(chan struct{}, 1)
	fire := func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	}
	stop := s.clock.AfterFunc(s.cfg.QualityInterval, fire)
	for {
		select {
		case <-s.ctx.Done():
			stop()
			return
		case <-tick:
			s.cfg.Quality.Tick(s.clock.Now())
			stop = s.clock.AfterFunc(s.cfg.QualityInterval, fire)
		}
	}
}

// qualityStream names a published track for the QualityMonitor.
func qualityStream(participantID, alias string) string { return participantID + "/" + alias }

// measureUplink attaches the QualityMonitor's uplink sink to pt, unless it
// is muted or already measured (on the publisher's loop).
func (p *peer) measureUplink(pt *pubTrack) {
	q := p.srv.cfg.Quality
	if q == nil || pt.Muted() {
		return
	}
	pt.qmu.Lock()
	defer pt.qmu.Unlock()
	if pt.qstop != nil || pt.qclosed {
		return
	}
	codec := pt.Codec()
	var events []uint8
	for _, c := range pt.TelephoneEvents() {
		events = append(events, uint8(c.PayloadType))
	}
	write, detach, err := q.AttachUplink(p.pid, qualityStream(p.pid, pt.alias), codec.MimeType, codec.ClockRate, events)
	if err != nil {
		return
	}
	unsink, err := pt.Observe(sfu.SinkFunc(write))
	if err != nil {
		detach()
		return
	}
	pt.qstop = func() { unsink(); detach() }
}

// stopUplink detaches pt's uplink measurement, if any; closing says the
// track is ending (no new measurement). Safe from any goroutine.
func (pt *pubTrack) stopUplink(closing bool) {
	pt.qmu.Lock()
	stop := pt.qstop
	pt.qstop = nil
	pt.qclosed = pt.qclosed || closing
	pt.qmu.Unlock()
	if stop != nil {
		stop()
	}
}

// measureDownlink returns the sink for the RTCP a subscriber (p) sends
// about track t of publisher k on sender s, and the function that stops
// the measurement; nil, nil without a QualityMonitor (on p's loop).
func (p *peer) measureDownlink(k trackKey, t *sfu.Track, s *webrtc.RTPSender) (sfu.RTCPSink, func()) {
	q := p.srv.cfg.Quality
	if q == nil || s == nil {
		return nil, nil
	}
	enc := s.GetParameters().Encodings
	if len(enc) == 0 {
		return nil, nil
	}
	codec := t.Codec()
	report, detach, err := q.AttachDownlink(p.pid, qualityStream(k.participant, k.alias), uint32(enc[0].SSRC), codec.MimeType, codec.ClockRate)
	if err != nil {
		return nil, nil
	}
	return sfu.RTCPSinkFunc(report), detach
}
