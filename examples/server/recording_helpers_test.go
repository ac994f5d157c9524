package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/tphakala/go-opus/opus"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/recording"
)

func init() {
	// The recordings' media, validated against docs/openapi.yaml as files.
	openapi3filter.RegisterBodyDecoder("audio/ogg", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("video/webm", openapi3filter.FileBodyDecoder)
}

// party is a Go client of the example with a microphone and every event
// it got.
type party struct {
	*client.Client
	mic  *webrtc.TrackLocalStaticRTP
	mu   sync.Mutex
	seen []protocol.Message
	more chan struct{}
}

// dialParty connects a client with a token minted through the API.
func dialParty(t *testing.T, c *apiClient, api *webrtc.API, identity, grants string) *party {
	t.Helper()
	var tok struct{ Token string }
	_ = json.Unmarshal(c.expect("POST", "/v1/tokens", `{"identity":"`+identity+`","grants":`+grants+`}`, 201), &tok)
	return dialWith(t, c.base, api, tok.Token)
}

func dialWith(t *testing.T, base string, api *webrtc.API, token string) *party {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(base, "http") + "/v1/signal", Token: token, API: api})
	if err != nil {
		t.Fatal(err)
	}
	p := &party{Client: cl, more: make(chan struct{}, 1)}
	p.mic, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "x")
	if err := cl.Publish("microphone", p.mic); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-cl.Events():
				p.mu.Lock()
				p.seen = append(p.seen, m)
				p.mu.Unlock()
				select {
				case p.more <- struct{}{}:
				default:
				}
			case <-cl.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cl.Close(); <-done })
	return p
}

// wait waits for the nth event that matches.
func (p *party) wait(t *testing.T, what string, n int, match func(protocol.Message) bool) protocol.Message {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		p.mu.Lock()
		k := 0
		for _, m := range p.seen {
			if match(m) {
				if k++; k == n {
					p.mu.Unlock()
					return m
				}
			}
		}
		p.mu.Unlock()
		select {
		case <-p.more:
		case <-deadline:
			t.Fatalf("waiting for %s", what)
		}
	}
}

func ofType(typ string) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Type == typ }
}

func ofState(s protocol.CallState) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Type == protocol.TypeCallState && m.State == s }
}

// connected waits until the client's own PeerConnection is connected, so
// what it writes from now on is sent.
func (p *party) connected(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if pc := p.PeerConnection(); pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("media not connected in 15 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send writes frames 20 ms apart, RTP timestamps 960 apart, from seq0.
func (p *party) send(frames [][]byte, seq0 uint16, ts0 uint32) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i, f := range frames {
		_ = p.mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq0 + uint16(i), Timestamp: ts0 + uint32(i*960)}, Payload: f})
		<-tick.C
	}
}

// heard waits until p has received the packet numbered seq from the other
// party: the server has read it, so its recorder has it too (the SFU hands
// a packet to its sinks right after its subscribers).
func (p *party) heard(t *testing.T, seq uint16) {
	t.Helper()
	var tr *client.RemoteTrack
	select {
	case tr = <-p.Tracks():
	case <-time.After(15 * time.Second):
		t.Fatal("no remote track")
	}
	for {
		_ = tr.SetReadDeadline(time.Now().Add(15 * time.Second))
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("waiting for packet %d: %v", seq, err)
		}
		if pkt.SequenceNumber == seq {
			return
		}
	}
}

// call places a call from a to b, answered, with media up on both sides.
func call(t *testing.T, a, b *party, callee string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	id, err := a.Call(ctx, callee, protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	b.wait(t, "incoming", 1, ofType(protocol.TypeIncoming))
	if err := b.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*party{a, b} {
		p.wait(t, "confirmed", 1, ofState(protocol.StateConfirmed))
		p.connected(t)
	}
	return id
}

// toneFrames returns n 20 ms Opus packets (mono, 48 kHz) of a sine at freq.
func toneFrames(t *testing.T, n int, freq float64) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(opus.EncoderConfig{SampleRate: 48000, Channels: 1, Bitrate: 32000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 960)
	buf := make([]byte, 1500)
	out := make([][]byte, n)
	for i := range n {
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i*960+j)/48000))
		}
		m, err := enc.Encode(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = bytes.Clone(buf[:m])
	}
	return out
}

// listRecordings waits until the query lists n recordings, none still
// being written, and returns them.
func listRecordings(t *testing.T, c *apiClient, query string, n int) []recording.Recording {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page struct{ Recordings []recording.Recording }
		_ = json.Unmarshal(c.expect("GET", "/v1/recordings?"+query, "", 200), &page)
		done := len(page.Recordings) == n
		for _, r := range page.Recordings {
			done = done && r.Status != recording.StatusRecording
		}
		if done {
			return page.Recordings
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings of %s: %+v, want %d finished", query, page.Recordings, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// oggPacket is a packet of an Ogg file and the granule position of the
// page it ends on.
type oggPacket struct {
	data    []byte
	granule int64
	eos     bool // on the last page
}

// readOgg parses an Ogg file (one logical stream) into its packets,
// checking the capture pattern of every page; written here from the
// specification (RFC 3533), not with the recorder's own reader.
func readOgg(t *testing.T, b []byte) []oggPacket {
	t.Helper()
	var out []oggPacket
	var partial []byte
	for off := 0; off < len(b); {
		if len(b)-off < 27 || string(b[off:off+4]) != "OggS" {
			t.Fatalf("no Ogg page at byte %d", off)
		}
		h := b[off : off+27]
		granule, flags, nseg := int64(binary.LittleEndian.Uint64(h[6:])), h[5], int(h[26])
		segs := b[off+27 : off+27+nseg]
		body := b[off+27+nseg:]
		pos := 0
		for _, s := range segs {
			partial = append(partial, body[pos:pos+int(s)]...)
			pos += int(s)
			if s < 255 {
				out = append(out, oggPacket{data: partial, granule: granule, eos: flags&4 != 0})
				partial = nil
			}
		}
		off += 27 + nseg + pos
	}
	return out
}

// requireFFmpeg says whether ffmpeg and ffprobe are here; without them
// the third-party checks are left out (logged), unless
// SWITCHBOARD_REQUIRE_FFMPEG=1 (as in CI), where the test fails.
func requireFFmpeg(t *testing.T) bool {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SWITCHBOARD_REQUIRE_FFMPEG") == "1" {
				t.Fatalf("%s is required (SWITCHBOARD_REQUIRE_FFMPEG=1) but not found: %v", tool, err)
			}
			t.Logf("%s not found: the files are not checked with a third-party decoder (apt-get install ffmpeg)", tool)
			return false
		}
	}
	return true
}

// checkPlayable fails unless ffprobe and ffmpeg (libopus) read the whole
// file without a word.
func checkPlayable(t *testing.T, path string) {
	t.Helper()
	for _, args := range [][]string{
		{"ffprobe", "-v", "error", path},
		{"ffmpeg", "-nostdin", "-v", "error", "-c:a", "libopus", "-i", path, "-f", "null", "-"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("%s on %s: %v\n%s", args[0], path, err, out)
		}
	}
}

// decodeMono decodes an Ogg Opus file to 48 kHz mono samples: with ffmpeg's
// libopus when it is here, else with go-opus.
func decodeMono(t *testing.T, path string, packets []oggPacket, ffmpeg bool) []int16 {
	t.Helper()
	if ffmpeg {
		out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-c:a", "libopus", "-i", path, "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
		if err != nil {
			t.Fatalf("ffmpeg decode: %v", err)
		}
		pcm := make([]int16, len(out)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
		}
		return pcm
	}
	dec, err := opus.NewDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	buf := make([]int16, 5760)
	for _, p := range packets[2:] {
		n, err := dec.Decode(p.data, buf)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, buf[:n]...)
	}
	return pcm[min(312, len(pcm)):]
}

// goertzel returns the power of freq in x (48 kHz) relative to the
// signal's: near 1 for a pure tone at freq.
func goertzel(x []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / 48000
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s1, s2 = f+c*s1-s2, s1
		energy += f * f
	}
	if energy == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - c*s1*s2) / (energy * float64(len(x)) / 2)
}

// postJSON sends body to the example without credentials (the demo's
// endpoints) and returns the status and the body.
func postJSON(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes()
}
