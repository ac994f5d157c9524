package calling

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// NAT1To1IPs replaces the host candidate's address with the public one.
func TestNAT1To1Candidates(t *testing.T) {
	api, closer, err := NewAPI(MediaConfig{ICEIPs: []string{"127.0.0.1"}, NAT1To1IPs: []string{"203.0.113.7"}})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel("x", nil); err != nil {
		t.Fatal(err)
	}
	offer, _ := pc.CreateOffer(nil)
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	sdp := pc.LocalDescription().SDP
	if !strings.Contains(sdp, " 203.0.113.7 ") || strings.Contains(sdp, " 127.0.0.1 ") {
		t.Fatalf("candidates:\n%s", sdp)
	}
	if _, _, err := NewAPI(MediaConfig{ICEIPs: []string{"not-an-ip"}}); err == nil {
		t.Fatal("bad ICE IP accepted")
	}
}
