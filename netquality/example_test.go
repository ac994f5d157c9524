package netquality_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/rtp"
	"github.com/switchboard-rtc/switchboard/netquality"
)

// The simplified E-model for 100 ms round trip, 20 ms jitter and 2 % loss
// on Opus.
func ExampleScore() {
	mos := netquality.Score(100, 20, 2, netquality.CodecWeight("audio/opus"))
	fmt.Printf("MOS %.2f, %v\n", mos, netquality.LevelOf(mos))
	// Output: MOS 4.18, GOOD
}

// An Estimator fed a sample a second: a clean path, then 10 % loss, then a
// muted stretch (not scored: the window keeps the last lossy second), then
// clean again. 4.38 is within the margin of EXCELLENT's threshold (4.34 +
// 0.05), so the last step waits for the 3 s hold.
func ExampleEstimator() {
	est, _ := netquality.NewEstimator(netquality.EstimatorConfig{}) // 5 s window
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	loss := []float64{0, 0, 0, 10, 10, 10, 10, 10, -1, -1, -1, 0, 0, 0, 0, 0, 0}
	for i, l := range loss {
		s := netquality.Sample{
			At:          start.Add(time.Duration(i) * time.Second),
			Active:      l >= 0, // -1: muted, nothing sent
			LossPercent: max(l, 0),
			JitterMs:    5,
			RTTMs:       40,
			LossWeight:  netquality.WeightOpus,
			Packets:     50,
		}
		if est.Add(s) {
			q := est.Quality()
			fmt.Printf("%2ds %-9v MOS %.2f loss %.0f%%\n", i, q.Level, q.MOS, q.LossPercent)
		}
	}
	// Output:
	//  0s EXCELLENT MOS 4.38 loss 0%
	//  3s GOOD      MOS 4.21 loss 2%
	//  5s FAIR      MOS 3.89 loss 6%
	//  7s POOR      MOS 3.44 loss 10%
	// 11s FAIR      MOS 3.99 loss 5%
	// 12s GOOD      MOS 4.38 loss 0%
	// 16s EXCELLENT MOS 4.38 loss 0%
}

// A Monitor fed by Observe; each Change carries the participant's whole
// report, from which the networkQuality and participantNetworkQuality
// events are built.
func ExampleMonitor() {
	mon, _ := netquality.New(netquality.Config{OnChange: func(c netquality.Change) {
		self, _ := json.Marshal(c.Report)
		fmt.Printf("to %s: %s\n", c.ParticipantID, self)
		fmt.Printf("to the others: %s's %v is %v\n", c.Identity, c.Direction, c.Of(c.Direction).Level)
	}})
	mon.Join("p-1", "alice")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	_ = mon.Observe("p-1", netquality.Downlink, netquality.Sample{
		At: at, Active: true, LossPercent: 1, JitterMs: 12, RTTMs: 80, LossWeight: netquality.WeightOpus,
	})
	// Output:
	// to p-1: {"participantId":"p-1","identity":"alice","level":"GOOD","mos":4.28,"uplink":{"level":"UNKNOWN","mos":0,"loss":0,"jitterMs":0,"rttMs":0},"downlink":{"level":"GOOD","mos":4.28,"loss":1,"jitterMs":12,"rttMs":80}}
	// to the others: alice's downlink is GOOD
}

// RTPStats as a sink of received RTP: every 10th packet lost.
func ExampleRTPStats() {
	stats := netquality.NewRTPStats(netquality.RTPStatsConfig{ClockRate: 48000, MimeType: "audio/opus"})
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	payload := make([]byte, 80)
	for i := range 50 {
		if i%10 == 9 {
			continue
		}
		h := rtp.Header{SequenceNumber: uint16(60000 + i), Timestamp: uint32(960 * i), PayloadType: 111}
		_ = stats.WriteRTPAt(&h, payload, start.Add(time.Duration(i)*20*time.Millisecond))
	}
	s := stats.Snapshot(start.Add(time.Second))
	fmt.Printf("active %v, %d packets, loss %.0f%%, jitter %.1f ms\n", s.Active, s.Packets, s.LossPercent, s.JitterMs)
	// Output: active true, 49 packets, loss 8%, jitter 0.0 ms
}
