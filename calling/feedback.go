package calling

import (
	"io"
	"sync"

	"github.com/pion/transport/v4/packetio"

	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// rtpBufferLimit is the most a PeerConnection buffers of one received RTP
// stream before dropping (pion's own default).
const rtpBufferLimit = 1000 * 1000

// feedback routes the RTCP a subscriber sends about the tracks it receives
// to those tracks (sfu.Feedback) from inside pion's SRTCP session: it is the
// BufferFactory of the PeerConnection's API, so each decrypted RTCP packet
// is handed to it on the one goroutine that reads the PeerConnection's
// SRTCP, and no goroutine per forwarded track waits on RTPSender.Read. A
// packet about an SSRC that is not one of the subscriber's senders (a
// publisher's sender reports) is dropped: nothing on the server reads them.
//
// A feedback is safe for concurrent use: the loop adds and removes senders
// while pion's session goroutine hands it packets.
type feedback struct {
	mu     sync.Mutex
	bySSRC map[uint32]*feedbackSender
	closed bool
}

// feedbackSender is one sender's handler and what ends its measurement.
type feedbackSender struct {
	f    *sfu.Feedback
	stop func() // nil: nothing
}

func newFeedback() *feedback {
	return &feedback{bySSRC: make(map[uint32]*feedbackSender)}
}

// add routes the RTCP about ssrc to f until remove or close, which call stop.
func (fb *feedback) add(ssrc uint32, f *sfu.Feedback, stop func()) {
	fb.mu.Lock()
	if fb.closed {
		fb.mu.Unlock()
		if stop != nil {
			stop()
		}
		return
	}
	old := fb.bySSRC[ssrc]
	fb.bySSRC[ssrc] = &feedbackSender{f: f, stop: stop}
	fb.mu.Unlock()
	if old != nil && old.stop != nil {
		old.stop()
	}
}

// remove stops routing the RTCP about ssrc; once it returns, the handler is
// not called again.
func (fb *feedback) remove(ssrc uint32) {
	fb.mu.Lock()
	s := fb.bySSRC[ssrc]
	delete(fb.bySSRC, ssrc)
	fb.mu.Unlock()
	if s != nil && s.stop != nil {
		s.stop()
	}
}

// close removes every sender (the PeerConnection is closed).
func (fb *feedback) close() {
	fb.mu.Lock()
	senders := fb.bySSRC
	fb.bySSRC, fb.closed = nil, true
	fb.mu.Unlock()
	for _, s := range senders {
		if s.stop != nil {
			s.stop()
		}
	}
}

// handle is called by pion's SRTCP session goroutine with one decrypted
// RTCP packet addressed to ssrc. The handler runs under the mutex, so that
// remove waits for a call in flight.
func (fb *feedback) handle(ssrc uint32, raw []byte) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if s := fb.bySSRC[ssrc]; s != nil {
		s.f.HandleRTCP(raw)
	}
}

// buffer is the PeerConnection's BufferFactory: RTP streams get pion's
// default buffer, RTCP streams a feedbackStream.
func (fb *feedback) buffer(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTPBufferPacket {
		b := packetio.NewBuffer()
		b.SetLimitSize(rtpBufferLimit)
		return b
	}
	return &feedbackStream{fb: fb, ssrc: ssrc, done: make(chan struct{})}
}

// feedbackStream is the buffer pion's SRTCP session writes one SSRC's
// packets to. Nothing reads it: Read waits for Close.
type feedbackStream struct {
	fb   *feedback
	ssrc uint32
	once sync.Once
	done chan struct{}
}

func (s *feedbackStream) Write(b []byte) (int, error) {
	s.fb.handle(s.ssrc, b)
	return len(b), nil
}

func (s *feedbackStream) Read([]byte) (int, error) {
	<-s.done
	return 0, io.EOF
}

func (s *feedbackStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}
