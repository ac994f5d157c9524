package main

import (
	"bytes"
	"context"
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

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/recording"
)

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
