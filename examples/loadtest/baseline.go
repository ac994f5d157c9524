package main

// The physical line: a plain UDP forwarder (no ICE, DTLS, SRTP, RTCP or
// Go WebRTC stack) in the same shape as the SFU run, so that the SFU's
// packets per CPU second can be read against what forwarding datagrams
// costs on this machine at all. -baseline sendto sends one datagram per
// system call; -baseline sendmmsg sends all the copies of a packet in one.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// forwarderEnv, set to sendto or sendmmsg, makes the binary the forwarder
// process of a baseline run instead of the load tool.
const forwarderEnv = "SWITCHBOARD_LOADTEST_FORWARDER"

// hello registers a client in a room: 'H' then the room (uint32); the
// forwarder answers 'A'.
const helloByte, ackByte = 'H', 'A'

// srtpOverhead is what SRTP adds to an RTP packet on the wire (the
// AES-GCM tag), so that baseline datagrams are as large as the SFU's.
const srtpOverhead = 16

// runForwarder serves as the forwarder until stdin closes (its parent, the
// load tool, ended). It prints its address on stdout.
func runForwarder(mode string, stdin io.Reader, stdout io.Writer) error {
	if mode != "sendto" && mode != "sendmmsg" {
		return fmt.Errorf("forwarder mode %q", mode)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	fmt.Fprintln(stdout, c.LocalAddr())
	go func() { // the parent's end is the forwarder's
		_, _ = io.Copy(io.Discard, stdin)
		_ = c.Close()
	}()
	f := &forwarder{c: c, batch: ipv4.NewPacketConn(c), mmsg: mode == "sendmmsg", rooms: map[uint32][]netip.AddrPort{}, of: map[netip.AddrPort]uint32{}}
	return f.serve()
}

// forwarder is the baseline's server: one socket, one goroutine.
type forwarder struct {
	c     *net.UDPConn
	batch *ipv4.PacketConn
	mmsg  bool
	rooms map[uint32][]netip.AddrPort
	of    map[netip.AddrPort]uint32 // each client's room
	msgs  []ipv4.Message            // sendmmsg: one per member, reused
	addrs []net.UDPAddr
}

func (f *forwarder) serve() error {
	buf := make([]byte, 1500)
	ack := []byte{ackByte}
	for {
		n, from, err := f.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		pkt := buf[:n]
		if n == 5 && pkt[0] == helloByte {
			room := binary.BigEndian.Uint32(pkt[1:])
			if _, ok := f.of[from]; !ok {
				f.of[from] = room
				f.rooms[room] = append(f.rooms[room], from)
			}
			_, _ = f.c.WriteToUDPAddrPort(ack, from)
			continue
		}
		room, ok := f.of[from]
		if !ok {
			continue
		}
		if f.mmsg {
			f.sendBatch(pkt, from, f.rooms[room])
			continue
		}
		for _, to := range f.rooms[room] {
			if to != from {
				_, _ = f.c.WriteToUDPAddrPort(pkt, to)
			}
		}
	}
}

// sendBatch sends pkt to every member but from in one sendmmsg (more if
// the kernel takes fewer), with no allocation once the room's size has
// been seen.
func (f *forwarder) sendBatch(pkt []byte, from netip.AddrPort, members []netip.AddrPort) {
	if len(f.msgs) < len(members) {
		f.msgs = make([]ipv4.Message, len(members))
		f.addrs = make([]net.UDPAddr, len(members))
		for i := range f.msgs {
			f.msgs[i].Buffers = [][]byte{nil}
			f.msgs[i].Addr = &f.addrs[i]
			f.addrs[i].IP = make(net.IP, 4)
		}
	}
	k := 0
	for _, to := range members {
		if to == from {
			continue
		}
		a := to.Addr().As4()
		copy(f.addrs[k].IP, a[:])
		f.addrs[k].Port = int(to.Port())
		f.msgs[k].Buffers[0] = pkt
		k++
	}
	for msgs := f.msgs[:k]; len(msgs) > 0; {
		n, err := f.batch.WriteBatch(msgs, 0)
		if err != nil && n <= 0 {
			n = 1 // skip the datagram refused
		}
		msgs = msgs[n:]
	}
}

// startForwarder runs this binary again as the forwarder and returns its
// address, its process id and the function that ends it.
func startForwarder(mode string) (netip.AddrPort, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return netip.AddrPort{}, 0, nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), forwarderEnv+"="+mode)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return netip.AddrPort{}, 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return netip.AddrPort{}, 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return netip.AddrPort{}, 0, nil, err
	}
	stop := func() { _ = in.Close(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return netip.AddrPort{}, 0, nil, fmt.Errorf("forwarder: %w", err)
	}
	addr, err := netip.ParseAddrPort(line[:len(line)-1])
	if err != nil {
		stop()
		return netip.AddrPort{}, 0, nil, err
	}
	return addr, cmd.Process.Pid, stop, nil
}

// baselineClient is one participant of a baseline run: a socket that
// sends as its publisher number and counts what it receives by sequence.
type baselineClient struct {
	id   uint32
	room int
	pub  bool
	c    *net.UDPConn
	// received counts packets whose sequence number is in [from, to).
	from, to atomic.Uint32
	received atomic.Int64
}

// runBaseline measures the forwarder of cfg.baseline in cfg's shape.
func runBaseline(ctx context.Context, cfg config) (*report, error) {
	fwd, pid, stop, err := startForwarder(cfg.baseline)
	if err != nil {
		return nil, err
	}
	defer stop()
	rep := &report{Rooms: cfg.rooms, Participants: cfg.participants, Publishers: cfg.publishers, Errors: map[string]int{}}
	var clients []*baselineClient
	var wg sync.WaitGroup // the receivers, which end when their sockets close
	defer func() {
		for _, c := range clients {
			_ = c.c.Close()
		}
		wg.Wait()
	}()
	for r := range cfg.rooms {
		for i := range cfg.participants {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return nil, err
			}
			_ = c.SetReadBuffer(1 << 20)
			bc := &baselineClient{id: uint32(len(clients)), room: r, pub: i < cfg.publishers, c: c}
			clients = append(clients, bc)
			if err := bc.hello(fwd); err != nil {
				rep.Errors["join"]++
			}
		}
	}
	rep.Joined = len(clients) - rep.Errors["join"]
	never := uint32(1 << 31)
	for _, c := range clients {
		c.from.Store(never)
		c.to.Store(never)
		wg.Go(c.receive)
	}

	pkt := make([]byte, 12+cfg.payload+srtpOverhead)
	pkt[0] = 0x80 // RTP version 2
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	warm := uint32(50) // one second before the window
	window := uint32(cfg.duration / (20 * time.Millisecond))
	var cpu0 float64
	var t0 time.Time
	pubs := int64(0)
	for _, c := range clients {
		if c.pub {
			pubs++
		}
	}
	for seq := uint32(0); seq < warm+window+25; seq++ { // 0.5 s after the window for stragglers
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		if seq == warm {
			for _, c := range clients {
				c.from.Store(warm)
				c.to.Store(warm + window)
			}
			cpu0, _ = serverCPU(pid)
			t0 = time.Now()
		}
		if seq == warm+window {
			rep.Seconds = time.Since(t0).Seconds()
			if cpu1, err := serverCPU(pid); err == nil {
				rep.ServerCPUSeconds = cpu1 - cpu0
			}
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(seq))
		binary.BigEndian.PutUint32(pkt[4:], seq*960)
		binary.BigEndian.PutUint32(pkt[12:], seq) // the full sequence number, past 16 bits
		for _, c := range clients {
			if c.pub {
				binary.BigEndian.PutUint32(pkt[8:], c.id)
				_, _ = c.c.WriteToUDPAddrPort(pkt, fwd)
			}
		}
	}
	rep.Sent = pubs * int64(window)
	rep.Expected = rep.Sent * int64(cfg.participants-1) // each packet once by every other member of its room
	for _, c := range clients {
		rep.Received += c.received.Load()
	}
	rep.LossPct = lossPct(rep.Expected, rep.Received)
	if rss, err := serverRSS(pid); err == nil {
		rep.ServerRSSMiB = rss
		rep.ServerRSSPerPeerMiB = rss / float64(len(clients))
	}
	if rep.ServerCPUSeconds > 0 {
		rep.ReceivedPerCPUSecond = float64(rep.Received) / rep.ServerCPUSeconds
	}
	if len(rep.Errors) == 0 {
		rep.Errors = nil
	}
	return rep, nil
}

// hello registers c in its room and waits for the forwarder's answer.
func (c *baselineClient) hello(fwd netip.AddrPort) error {
	msg := make([]byte, 5)
	msg[0] = helloByte
	binary.BigEndian.PutUint32(msg[1:], uint32(c.room))
	buf := make([]byte, 16)
	for range 3 {
		if _, err := c.c.WriteToUDPAddrPort(msg, fwd); err != nil {
			return err
		}
		_ = c.c.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := c.c.ReadFromUDPAddrPort(buf)
		if err == nil && n == 1 && buf[0] == ackByte {
			_ = c.c.SetReadDeadline(time.Time{})
			return nil
		}
	}
	return errors.New("join: the forwarder did not answer")
}

// receive counts the packets in the window until the socket closes.
func (c *baselineClient) receive() {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 16 {
			continue
		}
		seq := binary.BigEndian.Uint32(buf[12:])
		if seq >= c.from.Load() && seq < c.to.Load() {
			c.received.Add(1)
		}
	}
}
