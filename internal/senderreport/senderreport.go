// Package senderreport is a pion interceptor that sends RTCP sender
// reports for every local (sending) stream at an interval, with less work
// per packet than pion's report.SenderInterceptor: the write path updates
// three atomic counters and reads the clock once per report interval, not
// once per packet under a mutex; one goroutine serves every PeerConnection
// (pion's starts one per PeerConnection), and a PeerConnection's reports
// leave in one compound RTCP packet (several past MaxCompound bytes).
//
// The RTP timestamp of a report is extrapolated from one packet per
// interval (the first in-order packet after the previous report): RTP
// time advances with wall time for live media, so over an interval the
// error is that one packet's processing delay, as with pion's.
package senderreport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// DefaultInterval is how often a stream's sender report is sent.
const DefaultInterval = time.Second

// MaxCompound is the largest compound RTCP packet of reports written at
// once, in bytes (before SRTCP): a PeerConnection with more streams than
// fit (42 reports) gets several packets. It keeps the datagram under a
// path MTU, and browsers drop RTCP packets over 2 KB.
const MaxCompound = 1200

// Factory makes the interceptor of each PeerConnection (it implements
// interceptor.Factory; add it to an interceptor.Registry). Its goroutine
// runs while at least one stream is bound and ends with the last. It is
// safe for concurrent use.
type Factory struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	pcs  map[*Interceptor]struct{} // those with a bound stream
	stop chan struct{}             // closed to end the running loop; nil: no loop
}

// New returns a Factory reporting every interval (0: DefaultInterval),
// reading time from now (nil: time.Now).
func New(interval time.Duration, now func() time.Time) *Factory {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if now == nil {
		now = time.Now
	}
	return &Factory{interval: interval, now: now, pcs: map[*Interceptor]struct{}{}}
}

// NewInterceptor implements interceptor.Factory.
func (f *Factory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &Interceptor{f: f}, nil
}

// Report sends a sender report now for every stream that has sent a
// packet. The Factory's goroutine calls it every interval.
func (f *Factory) Report() {
	f.mu.Lock()
	pcs := make([]*Interceptor, 0, len(f.pcs))
	for i := range f.pcs {
		pcs = append(pcs, i)
	}
	f.mu.Unlock()
	now := f.now()
	for _, i := range pcs {
		i.report(now)
	}
}

func (f *Factory) add(i *Interceptor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pcs[i] = struct{}{}
	if f.stop == nil {
		f.stop = make(chan struct{})
		go f.loop(f.stop) // ends when the last stream is unbound (remove)
	}
}

func (f *Factory) remove(i *Interceptor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pcs, i)
	if len(f.pcs) == 0 && f.stop != nil {
		close(f.stop)
		f.stop = nil
	}
}

func (f *Factory) loop(stop <-chan struct{}) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f.Report()
		}
	}
}

// Interceptor is one PeerConnection's sender reports. It is safe for
// concurrent use.
type Interceptor struct {
	interceptor.NoOp
	f *Factory

	mu      sync.Mutex
	w       interceptor.RTCPWriter // mu
	streams []*stream              // mu
	closed  bool                   // mu
}

// stream is one local stream's counters. packets, octets and seq are
// written by whoever writes the stream's packets; the mark (the RTP time of
// one packet and when it was sent) is taken once per interval.
type stream struct {
	ssrc, rate uint32

	packets, octets atomic.Uint32
	seq             atomic.Uint32 // the highest sequence number sent, +1<<16 once one was
	want            atomic.Bool   // the next in-order packet marks the RTP↔wall-clock mapping

	mu    sync.Mutex
	rtp   uint32    // mu
	at    time.Time // mu
	valid bool      // mu
}

// BindRTCPWriter implements interceptor.Interceptor.
func (i *Interceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	i.mu.Lock()
	i.w = w
	i.mu.Unlock()
	return w
}

// BindLocalStream implements interceptor.Interceptor: it counts the
// stream's packets.
func (i *Interceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &stream{ssrc: info.SSRC, rate: info.ClockRate}
	s.want.Store(true)
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return w
	}
	i.streams = append(i.streams, s)
	first := len(i.streams) == 1
	i.mu.Unlock()
	if first {
		i.f.add(i)
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		s.sent(h, len(payload), i.f.now)
		return w.Write(h, payload, a)
	})
}

// sent counts one packet; the first in-order packet after a report marks
// the RTP time against the clock.
func (s *stream) sent(h *rtp.Header, size int, now func() time.Time) {
	s.packets.Add(1)
	s.octets.Add(uint32(size))
	last := s.seq.Load()
	if last != 0 && h.SequenceNumber-uint16(last) >= 1<<15 {
		return // a retransmission or a reordered packet: its time is not now
	}
	s.seq.Store(1<<16 | uint32(h.SequenceNumber))
	if s.want.Load() && s.want.CompareAndSwap(true, false) {
		at := now()
		s.mu.Lock()
		s.rtp, s.at, s.valid = h.Timestamp, at, true
		s.mu.Unlock()
	}
}

// UnbindLocalStream implements interceptor.Interceptor.
func (i *Interceptor) UnbindLocalStream(info *interceptor.StreamInfo) {
	i.mu.Lock()
	for k, s := range i.streams {
		if s.ssrc == info.SSRC {
			i.streams = append(i.streams[:k], i.streams[k+1:]...)
			break
		}
	}
	last := len(i.streams) == 0
	i.mu.Unlock()
	if last {
		i.f.remove(i)
	}
}

// Close implements interceptor.Interceptor.
func (i *Interceptor) Close() error {
	i.mu.Lock()
	i.closed = true
	i.streams = nil
	i.mu.Unlock()
	i.f.remove(i)
	return nil
}

// report writes the sender reports of i's streams that have a mark, as
// few compound packets of at most MaxCompound bytes as hold them.
func (i *Interceptor) report(now time.Time) {
	i.mu.Lock()
	w := i.w
	pkts := make([]rtcp.Packet, 0, len(i.streams))
	for _, s := range i.streams {
		if sr := s.report(now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	i.mu.Unlock()
	if w == nil {
		return
	}
	for len(pkts) > 0 {
		n, size := 0, 0
		for n < len(pkts) && (n == 0 || size+pkts[n].MarshalSize() <= MaxCompound) {
			size += pkts[n].MarshalSize()
			n++
		}
		_, _ = w.Write(pkts[:n], interceptor.Attributes{})
		pkts = pkts[n:]
	}
}

func (s *stream) report(now time.Time) *rtcp.SenderReport {
	s.mu.Lock()
	rtpAt, at, valid := s.rtp, s.at, s.valid
	s.mu.Unlock()
	s.want.Store(true)
	if !valid {
		return nil
	}
	elapsed := now.Sub(at)
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     ntp(now),
		RTPTime:     rtpAt + uint32(elapsed.Nanoseconds()*int64(s.rate)/int64(time.Second)),
		PacketCount: s.packets.Load(),
		OctetCount:  s.octets.Load(),
	}
}

// ntp is t as a 64-bit NTP timestamp (seconds since 1900 and a fraction).
func ntp(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
