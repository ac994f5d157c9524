package netquality

import (
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// sharedLog is the ForwardLog of one named stream and how many attachments
// use it; the Monitor drops it when none does.
type sharedLog struct {
	log  ForwardLog
	refs int
}

// streamLog returns the log of stream, taking a reference; the caller
// holds m.mu. The returned release drops the reference (m.mu held).
func (m *Monitor) streamLog(stream string) (*ForwardLog, func()) {
	sl := m.logs[stream]
	if sl == nil {
		sl = &sharedLog{}
		m.logs[stream] = sl
	}
	sl.refs++
	return &sl.log, func() {
		if sl.refs--; sl.refs == 0 && m.logs[stream] == sl {
			delete(m.logs, stream)
		}
	}
}

// AttachUplink measures a stream a joined participant publishes, as the
// server receives it: it attaches a new RTPStats for the codec (MIME type,
// RTP clock rate, and the payload types of its RFC 4733 telephone events)
// to the participant's uplink, and returns its write function, to be
// called with each packet the server forwards (an SFU sink: in order,
// from one goroutine at a time; no lock, no allocation), and detach.
//
// stream names the published stream on the server (any string unique to
// it while it exists, such as the publisher's id and the stream alias):
// the write function records each packet in the stream's ForwardLog, so
// the downlinks that carry the stream (AttachDownlink with the same name)
// count only the loss after the server. Attach it again after a pause in
// forwarding (a muted stretch), so the new RTPStats does not count the
// skipped sequence numbers as lost.
//
// detach stops the scoring of this stream; call it when the stream ends
// or pauses, also after Remove (which stops the scoring but leaves the
// stream's log to the other attachments).
func (m *Monitor) AttachUplink(participantID, stream, mimeType string, clockRate uint32, eventPayloadTypes []uint8) (write func(h *rtp.Header, payload []byte) error, detach func(), err error) {
	stats := NewRTPStats(RTPStatsConfig{ClockRate: clockRate, MimeType: mimeType, EventPayloadTypes: eventPayloadTypes, Clock: m.cfg.Clock})
	m.mu.Lock()
	log, release := m.streamLog(stream)
	m.mu.Unlock()
	detach, err = m.attach(participantID, Uplink, &attachment{src: stats, release: release})
	if err != nil {
		m.mu.Lock()
		release()
		m.mu.Unlock()
		return nil, nil, err
	}
	return func(h *rtp.Header, payload []byte) error {
		if h != nil {
			log.Record(h.SequenceNumber)
		}
		return stats.WriteRTP(h, payload)
	}, detach, nil
}

// AttachDownlink measures a stream the server forwards to a joined
// participant, from the participant's receiver reports: it attaches a new
// ReportStats tracking the stream (ssrc as the participant receives it,
// the codec's MIME type and RTP clock rate) to the participant's downlink,
// and returns its report function, to be called with the RTCP packets the
// participant sends about the stream (the packets read from the server's
// RTP sender; other packets and blocks are ignored), and detach. The
// reports also measure the participant's round trip, for both directions.
//
// stream names the published stream the server forwards (as in
// AttachUplink): the loss counted is what the server forwarded in each
// report's interval minus what the participant got, so loss upstream of
// the server is the publisher's uplink's alone. Call detach when the
// stream stops being sent, also after Remove.
func (m *Monitor) AttachDownlink(participantID, stream string, ssrc uint32, mimeType string, clockRate uint32) (report func(pkts []rtcp.Packet) error, detach func(), err error) {
	stats := NewReportStats(ReportStatsConfig{Clock: m.cfg.Clock})
	m.mu.Lock()
	log, release := m.streamLog(stream)
	m.mu.Unlock()
	stats.TrackForwarded(ssrc, clockRate, mimeType, log)
	detach, err = m.attach(participantID, Downlink, &attachment{src: stats, release: release})
	if err != nil {
		m.mu.Lock()
		release()
		m.mu.Unlock()
		return nil, nil, err
	}
	return stats.WriteRTCP, detach, nil
}
