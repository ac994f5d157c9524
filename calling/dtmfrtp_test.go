package calling_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// DTMF carried as RFC 4733 RTP reaches the other party of a call as
// telephone-event packets, payload intact, next to the signaled event.
func TestCallDTMFAsRTP(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	tr := &rateEventTrack{}
	if err := alice.Publish(rooms.AliasMicrophone, tr); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	id, _ := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	incoming(t, bob)
	_ = bob.Accept(id, protocol.CallOptions{Audio: true})
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	event := []byte{5, 0x8A, 0x03, 0xC0} // digit 5, end bit, volume 10, duration 960
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-sendCtx.Done():
				return
			case <-tick.C:
				if seq%10 == 0 {
					tr.write(seq, 48000, event)
				} else {
					tr.write(seq, 0, opusFrame(uint32(seq)))
				}
			}
		}
	}()
	remote := anyTrack(t, bob)
	var evPT uint8
	for _, c := range remote.Receiver.GetParameters().Codecs {
		if strings.EqualFold(c.MimeType, "audio/telephone-event") && c.ClockRate == 48000 {
			evPT = uint8(c.PayloadType)
		}
	}
	if evPT == 0 {
		t.Fatal("telephone-event was not negotiated with bob")
	}
	_ = alice.SendDTMF(id, "5") // the signaled twin
	for i := 0; i < 100; i++ {
		_ = remote.SetReadDeadline(time.Now().Add(5 * time.Second))
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if pkt.PayloadType == evPT {
			if !bytes.Equal(pkt.Payload, event) || !pkt.Marker {
				t.Fatalf("event packet %+v %x", pkt.Header, pkt.Payload)
			}
			if m := waitEvent(t, bob, protocol.TypeDTMF, ""); m.Digits != "5" {
				t.Fatalf("signaled DTMF %+v", m)
			}
			return
		}
	}
	t.Fatal("no telephone-event packet in 100 packets")
}
