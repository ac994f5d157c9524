package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// The Done-means test of recording, through the example: the API account
// records AUDIO and both parties' tokens say ALWAYS, so the call is
// recorded from its answer; both parties hear recordingStarted and, at
// the hang-up, recordingStopped. Each party talks 5 s of known Opus
// frames (one a 1 kHz tone, the other 440 Hz): each party's Ogg file holds
// exactly the packets sent, byte for byte, with the granule positions of
// their RTP timestamps; the mix lasts the call (within 100 ms) and holds
// the 1 kHz tone; every file plays in ffmpeg; the files are listed and
// downloaded (with Range) through /v1/recordings, and match the disk.
func TestRecordedCallByPolicy(t *testing.T) {
	data := t.TempDir()
	c := newAPIClientWith(t, func(cfg *config) {
		cfg.data = data
		cfg.recording = recordingConfig{account: recording.TypeAudio, composition: true}
	})
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	grants := `{"outgoing":true,"incoming":true,"publish":["AUDIO"],"recording":"ALWAYS"}`
	alice, bob := dialParty(t, c, api, "alice", grants), dialParty(t, c, api, "bob", grants)
	id := call(t, alice, bob, "bob")
	for _, p := range []*party{alice, bob} {
		if m := p.wait(t, "recordingStarted", 1, ofType(protocol.TypeRecordingStarted)); m.CallID != id || m.RecordingType != "AUDIO" {
			t.Fatalf("recordingStarted %+v", m)
		}
	}

	const n = 250 // 5 s
	sent := map[string][][]byte{"alice": toneFrames(t, n, 1000), "bob": toneFrames(t, n, 440)}
	var wg sync.WaitGroup
	for who, p := range map[string]*party{"alice": alice, "bob": bob} {
		wg.Go(func() { p.send(sent[who], 40000, 3000000000) })
	}
	wg.Wait()
	alice.heard(t, 40000+n-1)
	bob.heard(t, 40000+n-1)
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*party{alice, bob} {
		if m := p.wait(t, "recordingStopped", 1, ofType(protocol.TypeRecordingStopped)); m.CallID != id {
			t.Fatalf("recordingStopped %+v", m)
		}
	}

	recs := listRecordings(t, c, "callId="+id, 3)
	ffmpeg := requireFFmpeg(t)
	var comp *recording.Recording
	for i := range recs {
		r := &recs[i]
		if r.Status != recording.StatusCompleted || r.Format != recording.FormatOgg || r.Type != recording.TypeAudio || r.CallID != id {
			t.Fatalf("recording %+v", r)
		}
		// Downloaded whole, and in two ranges, it is the file on disk.
		_, whole, h := c.doWith("GET", "/v1/recordings/"+r.ID+"/media", "", nil)
		disk, err := os.ReadFile(filepath.Join(data, "recordings", r.ID+".ogg"))
		if err != nil || !bytes.Equal(whole, disk) || h.Get("Content-Type") != "audio/ogg" || int64(len(disk)) != r.Bytes {
			t.Fatalf("%s: downloaded %d bytes (%s), %d on disk (%v), metadata %d", r.ID, len(whole), h.Get("Content-Type"), len(disk), err, r.Bytes)
		}
		half := len(disk) / 2
		st1, b1, _ := c.doWith("GET", "/v1/recordings/"+r.ID+"/media", "", http.Header{"Range": {"bytes=0-" + strconv.Itoa(half-1)}})
		st2, b2, h2 := c.doWith("GET", "/v1/recordings/"+r.ID+"/media", "", http.Header{"Range": {"bytes=" + strconv.Itoa(half) + "-"}})
		if st1 != 206 || st2 != 206 || !bytes.Equal(append(b1, b2...), disk) ||
			h2.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", half, len(disk)-1, len(disk)) {
			t.Fatalf("%s: ranges %d %d, %q", r.ID, st1, st2, h2.Get("Content-Range"))
		}
		if ffmpeg {
			checkPlayable(t, filepath.Join(data, "recordings", r.ID+".ogg"))
		}
		if r.Composition {
			comp = r
			continue
		}
		packets := readOgg(t, disk)
		if len(packets) != 2+n || string(packets[0].data[:8]) != "OpusHead" || string(packets[1].data[:8]) != "OpusTags" {
			t.Fatalf("%s's file: %d packets (headers %q %q), sent %d", r.Identity, len(packets), packets[0].data[:8], packets[1].data[:8], n)
		}
		for i, p := range packets[2:] {
			if !bytes.Equal(p.data, sent[r.Identity][i]) {
				t.Fatalf("%s's packet %d differs from the one sent", r.Identity, i)
			}
		}
		// A page's granule position is where its last packet ends (48 kHz,
		// pre-skip 312 included): packet i ends at (i+1)·960.
		for i, p := range packets[2:] {
			if i+1 < n && packets[i+3].granule == p.granule {
				continue // not the last packet of its page
			}
			if want := int64(312 + (i+1)*960); p.granule != want {
				t.Fatalf("%s: the page ending with packet %d has granule %d, want %d", r.Identity, i, p.granule, want)
			}
		}
		if !packets[len(packets)-1].eos || r.DurationMs != 5000 || r.LostPackets != 0 || r.DroppedPackets != 0 {
			t.Fatalf("%s: end of stream %v, %d ms, lost %d, dropped %d", r.Identity, packets[len(packets)-1].eos, r.DurationMs, r.LostPackets, r.DroppedPackets)
		}
	}
	if comp == nil {
		t.Fatal("no composition")
	}
	if d := comp.DurationMs - 5000; d < -100 || d > 100 {
		t.Fatalf("the mix lasts %d ms, the call's media 5000 ms", comp.DurationMs)
	}
	path := filepath.Join(data, "recordings", comp.ID+".ogg")
	if ffmpeg {
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
		d, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil || perr != nil || math.Abs(d-5) > 0.1 {
			t.Fatalf("ffprobe: the mix lasts %q (%v %v)", out, err, perr)
		}
	}
	disk, _ := os.ReadFile(path)
	pcm := decodeMono(t, path, readOgg(t, disk), ffmpeg)
	mid := pcm[len(pcm)/5 : 4*len(pcm)/5]
	g1, g4, g7 := goertzel(mid, 1000), goertzel(mid, 440), goertzel(mid, 700)
	if g1 < 0.2 || g4 < 0.2 || g7 > 0.01 {
		t.Fatalf("the mix: 1 kHz %.3f, 440 Hz %.3f, 700 Hz %.3f of its power", g1, g4, g7)
	}
	t.Logf("mix %d ms; 1 kHz %.2f, 440 Hz %.2f of its power", comp.DurationMs, g1, g4)
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

// On demand, through the example: a call nobody's policy records is
// recorded from a POST mid-call to its DELETE (both parties hear both;
// the account setting AUDIO lowers a request for video), and the files
// hold that stretch; a room whose only participant's token says DISABLED,
// and the demo account, whose setting is NONE, are refused; the demo page's
// endpoint lists the demo account's recordings and deletes nothing.
func TestRecordingOnDemand(t *testing.T) {
	data := t.TempDir()
	c := newAPIClientWith(t, func(cfg *config) {
		cfg.data = data
		cfg.recording = recordingConfig{account: recording.TypeAudio, demo: recording.TypeNone}
		cfg.demo = demoConfig{on: true, perMinute: 20, ttl: time.Minute, apiSecret: "demo-admin-secret-0123456789"}
	})
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	grants := `{"outgoing":true,"incoming":true,"rooms":["*"],"publish":["AUDIO"]}`
	alice, bob := dialParty(t, c, api, "alice", grants), dialParty(t, c, api, "bob", grants)
	c.expect("POST", "/v1/recordings", `{"callId":"c-none","type":"AUDIO"}`, 404)
	id := call(t, alice, bob, "bob")

	body := c.expect("POST", "/v1/recordings", `{"callId":"`+id+`","type":"AUDIO_AND_VIDEO"}`, 201)
	if strings.TrimSpace(string(body)) != `{"callId":"`+id+`","type":"AUDIO"}` {
		t.Fatalf("started: %s", body)
	}
	c.expect("POST", "/v1/recordings", `{"callId":"`+id+`","type":"AUDIO"}`, 409)
	for _, p := range []*party{alice, bob} {
		if m := p.wait(t, "recordingStarted", 1, ofType(protocol.TypeRecordingStarted)); m.CallID != id || m.RecordingType != "AUDIO" {
			t.Fatalf("recordingStarted %+v", m)
		}
	}
	frames := toneFrames(t, 50, 1000)
	alice.send(frames, 100, 0)
	bob.heard(t, 100+uint16(len(frames))-1)
	c.expect("DELETE", "/v1/recordings/active/calls/"+id, "", 204)
	for _, p := range []*party{alice, bob} {
		if m := p.wait(t, "recordingStopped", 1, ofType(protocol.TypeRecordingStopped)); m.CallID != id {
			t.Fatalf("recordingStopped %+v", m)
		}
	}
	c.expect("DELETE", "/v1/recordings/active/calls/"+id, "", 404)
	// Alice's file holds what she sent while it recorded; bob sent nothing,
	// so he has no file; composition is off.
	recs := listRecordings(t, c, "callId="+id, 1)
	if recs[0].Identity != "alice" || recs[0].DurationMs != 1000 || recs[0].Composition {
		t.Fatalf("recordings %+v", recs)
	}
	disk, err := os.ReadFile(filepath.Join(data, "recordings", recs[0].ID+".ogg"))
	if err != nil {
		t.Fatal(err)
	}
	packets := readOgg(t, disk)
	if len(packets) != 2+len(frames) || !bytes.Equal(packets[2].data, frames[0]) || !bytes.Equal(packets[len(packets)-1].data, frames[len(frames)-1]) {
		t.Fatalf("alice's file: %d packets", len(packets))
	}
	if requireFFmpeg(t) {
		checkPlayable(t, filepath.Join(data, "recordings", recs[0].ID+".ogg"))
	}
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}

	// A room whose only participant's token says DISABLED.
	carol := dialParty(t, c, api, "carol", `{"rooms":["*"],"publish":["AUDIO"],"recording":"DISABLED"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	j, err := carol.Join(ctx, client.JoinRequest{Room: "solo", Recording: "AUDIO"})
	if err != nil {
		t.Fatal(err)
	}
	if b := c.expect("POST", "/v1/recordings", `{"sessionId":"`+j.SessionID+`","type":"AUDIO"}`, 403); !strings.Contains(string(b), "recording_not_permitted") {
		t.Fatalf("DISABLED alone: %s", b)
	}

	// The demo account records NONE: the demo page's on-demand request is
	// refused; the API account cannot see the demo's room.
	st, b := postJSON(t, "POST", c.base+"/demo/token", `{"identity":"dora"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal(b, &tok); st != 201 || err != nil {
		t.Fatalf("demo token: %d %s", st, b)
	}
	dora := dialWith(t, c.base, api, tok.Token)
	jd, err := dora.Join(ctx, client.JoinRequest{Room: "standup", Recording: "AUDIO"})
	if err != nil {
		t.Fatal(err)
	}
	if st, b := postJSON(t, "POST", c.base+"/demo/recordings", `{"sessionId":"`+jd.SessionID+`","type":"AUDIO"}`); st != 403 || !strings.Contains(string(b), "recording_not_permitted") {
		t.Fatalf("demo account NONE: %d %s", st, b)
	}
	c.expect("POST", "/v1/recordings", `{"sessionId":"`+jd.SessionID+`","type":"AUDIO"}`, 404)
	if st, b := postJSON(t, "GET", c.base+"/demo/recordings", ""); st != 200 || strings.TrimSpace(string(b)) != `{"recordings":[]}` {
		t.Fatalf("the demo's recordings: %d %s", st, b)
	}
	if st, _ := postJSON(t, "DELETE", c.base+"/demo/recordings/"+recs[0].ID, ""); st != 403 {
		t.Fatalf("the demo deleted a recording: %d", st)
	}
	if st, _ := postJSON(t, "GET", c.base+"/demo/recordings/"+recs[0].ID, ""); st != 404 {
		t.Fatalf("the demo sees the API account's recording: %d", st)
	}
}

// The recording flags: defaults (the API account NONE, the demo account
// AUDIO, composition on, 30 days), case-insensitive types, and a refusal.
func TestRecordingFlags(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.recording != (recordingConfig{account: recording.TypeNone, demo: recording.TypeAudio, composition: true, retention: 30 * 24 * time.Hour}) {
		t.Fatalf("defaults %+v %v", cfg.recording, err)
	}
	cfg, err = parseFlags([]string{"-recording", "audio_and_video", "-demo-recording", "NONE", "-recording-composition=false", "-recording-retention", "48h"}, none)
	if err != nil || cfg.recording != (recordingConfig{account: recording.TypeAudioAndVideo, demo: recording.TypeNone, retention: 48 * time.Hour}) {
		t.Fatalf("set %+v %v", cfg.recording, err)
	}
	if _, err := parseFlags([]string{"-recording", "VIDEO"}, none); err == nil || !strings.Contains(err.Error(), "NONE, AUDIO or AUDIO_AND_VIDEO") {
		t.Fatalf("-recording VIDEO: %v", err)
	}
}

// At start the example repairs what a killed process left: a recording
// still marked as being written is listed as interrupted, with the
// duration its file holds, and the file is finished so it plays.
func TestRecordingInterruptedAtStart(t *testing.T) {
	data := t.TempDir()
	st, err := recording.NewFileStorage(filepath.Join(data, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	r := &recording.Recording{ID: "r-killed1", Account: "default", CallID: "c-1", Identity: "alice", Type: recording.TypeAudio,
		Format: recording.FormatOgg, StartedAt: time.Now().Add(-time.Minute), Status: recording.StatusRecording}
	f, err := st.Create(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	w, err := recording.NewOggWriter(f, recording.OggOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range toneFrames(t, 50, 1000) {
		if err := w.WritePacket(int64(i*960), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil || f.Sync() != nil || f.Close() != nil {
		t.Fatal("writing the file", err)
	}
	// The process "dies" here: no Close, no final metadata.

	c := newAPIClientWith(t, func(cfg *config) { cfg.data = data })
	var got recording.Recording
	_ = json.Unmarshal(c.expect("GET", "/v1/recordings/r-killed1", "", 200), &got)
	if got.Status != recording.StatusInterrupted || got.DurationMs != 1000 {
		t.Fatalf("after the restart: %+v", got)
	}
	if requireFFmpeg(t) {
		checkPlayable(t, filepath.Join(data, "recordings", "r-killed1.ogg"))
	}
}
