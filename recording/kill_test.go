package recording

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

const killChildEnv = "SWITCHBOARD_RECORDING_KILL_CHILD"

// killChild records 20 ms packets at real pace into the folder in the
// environment until it is killed, printing how many it has written.
func killChild(t *testing.T, dir string) {
	st, err := NewFileStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := New(Config{Storage: st})
	ctx := context.Background()
	a, err := rec.Start(ctx, Target{Account: "acct", CallID: "c-kill"}, audioDecision)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pkts := tone(t, 50, 1000)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; ; i++ {
		<-tick.C
		_ = tr.WriteRTP(&rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 3}, pkts[i%50])
		if i%25 == 24 {
			fmt.Printf("written %d\n", i+1)
		}
	}
}

// A process killed with SIGKILL while recording leaves a file that plays
// up to the kill; at the next start the recording is marked interrupted
// with the duration the file really holds.
func TestKilledWhileRecording(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(t, dir)
		return
	}
	requireFFmpeg(t)
	dir := filepath.Join(t.TempDir(), "rec")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWhileRecording$", "-test.v")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Wait until the child says it has written about 3 s, then kill it.
	written := 0
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for written < 150 && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "written "); ok {
			written, _ = strconv.Atoi(n)
		}
	}
	if written < 150 {
		t.Fatalf("the child stopped after %d packets", written)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	writtenMs := int64(written * 20)

	st, err := NewFileStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	left, _ := st.List(context.Background(), Filter{AnyAccount: true})
	if len(left) != 1 || left[0].Status != StatusRecording {
		t.Fatalf("before the restart: %+v", left)
	}
	path := mediaPath(st, left[0])
	checkPlayable(t, path) // as the kill left it
	rec, _ := New(Config{Storage: st})
	fixed, err := rec.Open(context.Background())
	if err != nil || len(fixed) != 1 {
		t.Fatalf("open: %v %v", fixed, err)
	}
	got, _ := st.List(context.Background(), Filter{AnyAccount: true})
	r := got[0]
	if r.Status != StatusInterrupted || r.EndedAt == nil {
		t.Fatalf("after the restart: %+v", r)
	}
	if d := r.DurationMs - writtenMs; d < -2500 || d > 2500 {
		t.Fatalf("duration %d ms, written %d ms", r.DurationMs, writtenMs)
	}
	if fi, _ := os.Stat(path); fi.Size() != r.Bytes {
		t.Fatalf("bytes %d, file %d", r.Bytes, fi.Size())
	}
	checkPlayable(t, path)
	if d := probeDuration(t, path); d*1000 < float64(r.DurationMs)-10 || d*1000 > float64(r.DurationMs)+10 {
		t.Fatalf("ffprobe says %.3f s, metadata %d ms", d, r.DurationMs)
	}
	t.Logf("written %d ms before the kill; the file holds %d ms", writtenMs, r.DurationMs)
	// Open runs once.
	if again, _ := rec.Open(context.Background()); len(again) != 0 {
		t.Fatal("second Open repaired again")
	}
}
