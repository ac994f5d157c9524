package calling_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// footprintEnv, when set, makes the test binary a client process for
// BenchmarkParticipantFootprint instead of running tests: the clients live
// in another process, so the benchmark's figures are the server's alone.
const footprintEnv = "SWITCHBOARD_FOOTPRINT_CLIENTS"

func TestMain(m *testing.M) {
	if os.Getenv(footprintEnv) != "" {
		os.Exit(footprintClients(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// footprintJob is what the benchmark asks the client process to do.
type footprintJob struct {
	Mode     string   // "idle": signaling only; "audio": join rooms and publish Opus
	URL      string   // the signaling endpoint
	Tokens   []string // one per participant
	RoomSize int      // audio: participants per room
}

// BenchmarkParticipantFootprint measures what one participant costs the
// server: live heap (after GC), goroutines and goroutine stacks, per
// participant, with the clients in a child process. "idle" is an open
// signaling connection that has not joined; "audio" is a participant in a
// room of 10 where everyone publishes Opus (50 packets/s) and receives the
// other nine, measured once every participant receives every other.
func BenchmarkParticipantFootprint(b *testing.B) {
	for _, bc := range []struct {
		mode     string
		n        int
		roomSize int
	}{{"idle", 200, 0}, {"audio", 20, 10}} {
		b.Run(bc.mode, func(b *testing.B) {
			for b.Loop() {
				heap, goroutines, stacks := footprint(b, bc.mode, bc.n, bc.roomSize)
				b.ReportMetric(heap, "heap-bytes/participant")
				b.ReportMetric(goroutines, "goroutines/participant")
				b.ReportMetric(stacks, "stack-bytes/participant")
			}
		})
	}
}

func footprint(b *testing.B, mode string, n, roomSize int) (heap, goroutines, stacks float64) {
	e := newEnvB(b)
	defer e.close()
	job := footprintJob{Mode: mode, URL: e.wsURL, RoomSize: roomSize}
	for i := range n {
		job.Tokens = append(job.Tokens, e.token(fmt.Sprintf("user-%03d", i), roomGrants))
	}
	before := settle()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), footprintEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the client process closes its clients and exits
		_ = cmd.Wait()
	}()
	if err := json.NewEncoder(stdin).Encode(job); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("client process: %q %v", line, err)
	}
	if u := e.srv.Usage(); u.Connections != n {
		b.Fatalf("usage %+v, want %d connections", u, n)
	}
	after := settle()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return per(after.heap, before.heap), per(after.goroutines, before.goroutines), per(after.stacks, before.stacks)
}

type memPoint struct{ heap, goroutines, stacks uint64 }

func settle() memPoint {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memPoint{heap: m.HeapAlloc, goroutines: uint64(runtime.NumGoroutine()), stacks: m.StackInuse}
}

// footprintClients runs in the child process: it reads a job, connects
// its participants, prints "ready" when they are all up (for audio: every
// participant receives every other), and ends them when stdin closes.
func footprintClients(in io.Reader, out io.Writer) int {
	var job footprintJob
	r := bufio.NewReader(in)
	if err := json.NewDecoder(r).Decode(&job); err != nil {
		fmt.Fprintln(os.Stderr, "footprint clients:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "footprint clients:", err); return 1 }
	switch job.Mode {
	case "idle":
		for _, tok := range job.Tokens {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+tok)
			c, _, err := websocket.Dial(ctx, job.URL, &websocket.DialOptions{HTTPHeader: h})
			if err != nil {
				return fail(err)
			}
			if _, _, err := c.Read(ctx); err != nil { // the status message
				return fail(err)
			}
			_ = c.CloseRead(ctx) // keep reading: pings are answered while reading
			closers = append(closers, func() { _ = c.Close(websocket.StatusNormalClosure, "") })
		}
	case "audio":
		api, err := client.NewAPI("127.0.0.1")
		if err != nil {
			return fail(err)
		}
		var cs []*client.Client
		for i, tok := range job.Tokens {
			c, err := client.Dial(ctx, client.Config{URL: job.URL, Token: tok, API: api})
			if err != nil {
				return fail(err)
			}
			closers = append(closers, func() { _ = c.Close() })
			mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "x")
			_ = c.Publish(rooms.AliasMicrophone, mic)
			jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
			_, err = c.Join(jctx, client.JoinRequest{Room: fmt.Sprintf("room-%d", i/job.RoomSize)})
			jcancel()
			if err != nil {
				return fail(err)
			}
			go sendOpus(ctx, mic)
			cs = append(cs, c)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(cs))
		for i, c := range cs {
			others := min(job.RoomSize, len(cs)-i/job.RoomSize*job.RoomSize) - 1
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range others {
					select {
					case tr := <-c.Tracks():
						_ = tr.SetReadDeadline(time.Now().Add(10 * time.Second))
						if _, _, err := tr.ReadRTP(); err != nil {
							errs <- err
							return
						}
						_ = tr.SetReadDeadline(time.Time{})
						go func() { // keep draining, as a real client does
							for {
								if _, _, err := tr.ReadRTP(); err != nil {
									return
								}
							}
						}()
					case <-time.After(20 * time.Second):
						errs <- fmt.Errorf("participant %d: missing tracks", i)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("unknown mode %q", job.Mode))
	}
	fmt.Fprintln(out, "ready")
	_, _ = io.Copy(io.Discard, r) // until the benchmark closes stdin
	return 0
}
