package calling_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// BenchmarkJoinToFirstAudio: a participant dials the signaling server,
// joins a room where someone publishes Opus every 20 ms, and receives the
// first audio packet: WebSocket, token check, PeerConnection, ICE, DTLS,
// SRTP, SFU binding, all over loopback in one process (client and server
// share the 2 cores). ns/op is that whole join; the 20 ms packet interval
// adds 10 ms on average.
func BenchmarkJoinToFirstAudio(b *testing.B) {
	e := newEnvB(b)
	alice := e.dial("alice")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "a")
	_ = alice.Publish(rooms.AliasMicrophone, mic)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "bench"}); err != nil {
		b.Fatal(err)
	}
	go sendOpus(ctx, mic)
	b.ResetTimer()
	for b.Loop() {
		c := e.dial("bob")
		jctx, jcancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := c.Join(jctx, client.JoinRequest{Room: "bench"}); err != nil {
			b.Fatal(err)
		}
		select {
		case tr := <-c.Tracks():
			_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := tr.ReadRTP(); err != nil {
				b.Fatal(err)
			}
		case <-jctx.Done():
			b.Fatal("no track")
		}
		jcancel()
		b.StopTimer()
		_ = c.Close()
		e.clients = e.clients[:1]
		b.StartTimer()
	}
}

// BenchmarkRoomMemory: live heap (after GC) per participant in a 10-person room,
// everyone publishing Opus, after media flows. Server and clients share
// the process, so the figure is server + client (an upper bound on the
// server's share).
func BenchmarkRoomMemory(b *testing.B) {
	for b.Loop() {
		e := newEnvB(b)
		ctx, cancel := context.WithCancel(context.Background())
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 10
		var cs []*client.Client
		for i := range n {
			c := e.dial(fmt.Sprintf("user-%02d", i))
			mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "x")
			_ = c.Publish(rooms.AliasMicrophone, mic)
			if _, err := c.Join(ctx, client.JoinRequest{Room: "mem"}); err != nil {
				b.Fatal(err)
			}
			go sendOpus(ctx, mic)
			cs = append(cs, c)
		}
		// Everyone receives the other nine.
		for _, c := range cs {
			for range n - 1 {
				select {
				case tr := <-c.Tracks():
					_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, _, err := tr.ReadRTP(); err != nil {
						b.Fatal(err)
					}
				case <-time.After(10 * time.Second):
					b.Fatal("missing track")
				}
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n/(1<<20), "MiB/participant")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/participant")
		cancel()
		e.close()
		e.clients = nil
	}
}
