package lazyinterceptor

import (
	"runtime"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/test"
)

// feed is a remote stream's reader yielding the given packets, then blocking until done.
func feed(pkts []*rtp.Packet, done <-chan struct{}) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		if len(pkts) == 0 {
			<-done
			return 0, nil, errClosed
		}
		n, err := pkts[0].MarshalTo(b)
		pkts = pkts[1:]
		return n, a, err
	})
}

type errString string

func (e errString) Error() string { return string(e) }

const errClosed = errString("closed")

func TestBuiltOnlyForStreamsThatNeedIt(t *testing.T) {
	lim := test.TimeOut(10 * time.Second)
	defer lim.Stop()
	report := test.CheckRoutines(t)
	defer report()

	gen, err := nack.NewGeneratorInterceptor(nack.GeneratorInterval(5 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	f := New(gen, HasFeedback("nack"))
	i, _ := f.NewInterceptor("pc")
	nacks := make(chan *rtcp.TransportLayerNack, 16)
	i.BindRTCPWriter(interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			if n, ok := p.(*rtcp.TransportLayerNack); ok {
				select {
				case nacks <- n:
				default:
				}
			}
		}
		return 0, nil
	}))
	done := make(chan struct{})
	gap := []*rtp.Packet{{Header: rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 5}}, {Header: rtp.Header{Version: 2, SequenceNumber: 3, SSRC: 5}}}

	// An audio stream without NACK feedback: nothing is built, no goroutine starts.
	before := runtime.NumGoroutine()
	audio := i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 4, ClockRate: 48000}, feed(gap, done))
	if after := runtime.NumGoroutine(); after != before {
		t.Fatalf("goroutines %d -> %d for a stream that does not need the interceptor", before, after)
	}
	buf := make([]byte, 1500)
	_, _, _ = audio.Read(buf, nil)
	_, _, _ = audio.Read(buf, nil)

	// A video stream with NACK feedback: the generator runs and asks for the gap.
	video := i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 5, ClockRate: 90000, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}, feed(gap, done))
	_, _, _ = video.Read(buf, nil)
	_, _, _ = video.Read(buf, nil)
	select {
	case n := <-nacks:
		if n.MediaSSRC != 5 || len(n.Nacks) != 1 || n.Nacks[0].PacketID != 2 {
			t.Fatalf("NACK %+v, want one for packet 2 of SSRC 5", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NACK for the video stream's gap")
	}
	close(done)
	i.UnbindRemoteStream(&interceptor.StreamInfo{SSRC: 5})
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHasFeedback(t *testing.T) {
	info := &interceptor.StreamInfo{RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack", Parameter: "pli"}, {Type: "transport-cc"}}}
	if HasFeedback("nack")(info) {
		t.Error("nack pli taken for nack")
	}
	if !HasFeedback("transport-cc")(info) {
		t.Error("transport-cc not found")
	}
}
