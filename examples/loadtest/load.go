package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
)

// minPayload is the header every packet carries: the Opus TOC byte, the
// publisher's number and the packet's sequence in its stream.
const minPayload = 1 + 4 + 4

// participant is one client of the load.
type participant struct {
	id     uint32 // its number, in every packet it sends
	room   int
	pub    bool
	c      *client.Client
	mic    *webrtc.TrackLocalStaticRTP
	joinAt time.Time

	first atomic.Int64  // unix ns of the first packet received; 0: none yet
	seq   atomic.Uint32 // next sequence it sends

	mu   sync.Mutex
	seen map[uint32]map[uint32]struct{} // publisher → sequences received
}

// run puts the load on the server and measures it.
func run(ctx context.Context, cfg config) (*report, error) {
	api, err := client.NewAPI(cfg.iceIP)
	if err != nil {
		return nil, err
	}
	rep := &report{Rooms: cfg.rooms, Participants: cfg.participants, Publishers: cfg.publishers, Errors: map[string]int{}}
	var wg sync.WaitGroup // every goroutine of the run; all end with ctx
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait (deferred calls run last first)

	var parts []*participant
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.joinRate))
	defer tick.Stop()
	for r := 0; r < cfg.rooms; r++ {
		for i := 0; i < cfg.participants; i++ {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
			p := &participant{id: uint32(len(parts)), room: r, pub: i < cfg.publishers, seen: map[uint32]map[uint32]struct{}{}}
			if err := p.start(ctx, cfg, api, &wg); err != nil {
				kind, _, _ := strings.Cut(err.Error(), ":") // token, dial, publish, join
				rep.Errors[kind]++
				continue
			}
			defer p.c.Close()
			parts = append(parts, p)
		}
	}
	rep.Joined = len(parts)
	// Everyone is in: the window starts once the last joiner hears its room.
	settle := time.Now().Add(5 * time.Second)
	for _, p := range parts {
		for p.first.Load() == 0 && cfg.publishers > 0 && time.Now().Before(settle) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	start := make([]uint32, len(parts))
	for i, p := range parts {
		start[i] = p.seq.Load()
	}
	cpu0, _ := serverCPU(cfg.serverPID)
	t0 := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(cfg.duration):
	}
	end := make([]uint32, len(parts))
	for i, p := range parts {
		end[i] = p.seq.Load()
	}
	rep.Seconds = time.Since(t0).Seconds()
	cpu1, cpuErr := serverCPU(cfg.serverPID)
	time.Sleep(300 * time.Millisecond) // the last packets of the window in flight
	cancel()
	wg.Wait()

	// The window's packets: each publisher's [start, end), expected once by
	// every other joined participant of its room.
	var lat []float64
	for i, p := range parts {
		if f := p.first.Load(); f > 0 {
			lat = append(lat, float64(f-p.joinAt.UnixNano())/1e6)
		}
		if !p.pub {
			continue
		}
		rep.Sent += int64(end[i] - start[i])
		for _, q := range parts {
			if q == p || q.room != p.room {
				continue
			}
			rep.Expected += int64(end[i] - start[i])
			q.mu.Lock()
			for s := range q.seen[p.id] {
				if s >= start[i] && s < end[i] {
					rep.Received++
				}
			}
			q.mu.Unlock()
		}
	}
	rep.FirstMediaMs = percentilesOf(lat)
	rep.LossPct = lossPct(rep.Expected, rep.Received)
	if cfg.serverPID > 0 && cpuErr == nil {
		rep.ServerCPUSeconds = cpu1 - cpu0
		if rep.ServerCPUSeconds > 0 {
			rep.ReceivedPerCPUSecond = float64(rep.Received) / rep.ServerCPUSeconds
		}
		if rss, err := serverRSS(cfg.serverPID); err == nil {
			rep.ServerRSSMiB = rss
			rep.ServerRSSPerPeerMiB = rss / float64(max(1, rep.Joined))
		}
	}
	if rep.Joined < cfg.rooms*cfg.participants && len(rep.Errors) == 0 {
		rep.Errors["interrupted"]++
	}
	if len(rep.Errors) == 0 {
		rep.Errors = nil
	}
	return rep, nil
}

// start mints p's token, connects, joins its room and starts its
// publisher and receivers; they end with ctx. Errors begin with their kind.
func (p *participant) start(ctx context.Context, cfg config, api *webrtc.API, wg *sync.WaitGroup) error {
	tok, err := mintToken(ctx, cfg, fmt.Sprintf("load-%d", p.id))
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(cfg.url, "http") + "/v1/signal"
	c, err := client.Dial(dctx, client.Config{URL: wsURL, Token: tok, API: api, NoDataChannel: !cfg.dataChannel})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	p.c = c
	if p.pub {
		p.mic, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", fmt.Sprint(p.id))
		if err := c.Publish("microphone", p.mic); err != nil {
			_ = c.Close()
			return fmt.Errorf("publish: %w", err)
		}
	}
	p.joinAt = time.Now()
	if _, err := c.Join(dctx, client.JoinRequest{Room: fmt.Sprintf("load-%d", p.room)}); err != nil {
		_ = c.Close()
		return fmt.Errorf("join: %w", err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); p.receive(ctx, wg) }()
	go func() { defer wg.Done(); p.publish(ctx, cfg.payload) }()
	return nil
}

// publish sends a packet every 20 ms until ctx ends.
func (p *participant) publish(ctx context.Context, size int) {
	if !p.pub {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	payload := make([]byte, size)
	payload[0] = 0xFC // Opus TOC: CELT fullband 20 ms, one frame
	binary.BigEndian.PutUint32(payload[1:], p.id)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := p.seq.Load()
		binary.BigEndian.PutUint32(payload[5:], n)
		_ = p.mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(n), Timestamp: n * 960}, Payload: payload})
		p.seq.Add(1)
	}
}

// receive reads every track p is sent until ctx ends.
func (p *participant) receive(ctx context.Context, wg *sync.WaitGroup) {
	for {
		select {
		case <-ctx.Done():
			return
		case tr := <-p.c.Tracks():
			wg.Add(1)
			go func() {
				defer wg.Done()
				stop := context.AfterFunc(ctx, func() { _ = tr.SetReadDeadline(time.Now()) })
				defer stop()
				for {
					pkt, _, err := tr.ReadRTP()
					if err != nil {
						return
					}
					if len(pkt.Payload) < minPayload {
						continue
					}
					p.first.CompareAndSwap(0, time.Now().UnixNano())
					from, seq := binary.BigEndian.Uint32(pkt.Payload[1:]), binary.BigEndian.Uint32(pkt.Payload[5:])
					p.mu.Lock()
					if p.seen[from] == nil {
						p.seen[from] = map[uint32]struct{}{}
					}
					p.seen[from][seq] = struct{}{}
					p.mu.Unlock()
				}
			}()
		}
	}
}

// mintToken asks the server's tokens API for a user token that may join
// any room and publish audio.
func mintToken(ctx context.Context, cfg config, identity string) (string, error) {
	body, _ := json.Marshal(map[string]any{"identity": identity, "grants": map[string]any{"rooms": []string{"*"}, "publish": []string{"AUDIO"}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url+"/v1/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(cfg.user, cfg.secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/tokens answered %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// percentilesOf returns the nearest-rank percentiles of xs (zero when empty).
func percentilesOf(xs []float64) percentiles {
	if len(xs) == 0 {
		return percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

// lossPct is the share of expected packets not received, in percent.
func lossPct(expected, received int64) float64 {
	if expected <= 0 {
		return 0
	}
	return 100 * float64(expected-received) / float64(expected)
}
