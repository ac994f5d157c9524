// Package udpbatch is a UDP socket whose writes can be gathered and sent
// together, one sendmmsg(2) system call for many datagrams.
//
// An SFU writes each packet it forwards once per subscriber, and on a
// loopback or a fast link the system call per datagram is the largest cost
// of forwarding. Conn is the socket pion's ICE UDP mux reads and writes
// (it implements net.PacketConn and ice.AddrPortReaderWriter); the code
// that fans a packet out brackets the fan-out with Begin and End, and the
// datagrams written in between leave in one system call at End. Writes
// outside any Begin/End pair go out at once, as on a plain socket.
package udpbatch

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// DefaultBatch is how many datagrams wait for one system call at most: a
// fan-out to more destinations is sent in several batches.
const DefaultBatch = 64

// MaxDatagram is the largest datagram a batch holds; a larger write goes
// out alone, at once.
const MaxDatagram = 1500

// Conn is a UDP socket with batched writes. It is safe for concurrent use:
// any number of goroutines may write, and any number of fan-outs may be
// open at once (their datagrams share the batch and leave with whichever
// End comes first). Each goroutine's datagrams leave in the order it
// wrote them.
type Conn struct {
	udp   *net.UDPConn
	batch *ipv4.PacketConn // sendmmsg on Linux; a loop of sendmsg elsewhere
	size  int

	mu       sync.Mutex
	open     int      // fan-outs between Begin and End; mu
	cur      *pending // the datagrams waiting; mu
	free     []*pending
	inflight int // batches taken and not yet sent; mu

	// sendMu orders the system calls. A batch holds datagrams of several
	// goroutines and is sent by whichever takes it; were the sends not
	// ordered, a goroutine's next datagram (in a later batch, or written
	// directly) could leave before the batch still being sent by another.
	// So sendMu is locked while mu is held, by whoever takes a batch and by
	// a direct write while batches are in flight: the system calls happen
	// in the order of those critical sections.
	sendMu sync.Mutex

	packets, syscalls, failed atomic.Uint64
}

// pending is one batch of datagrams, preallocated and reused.
type pending struct {
	msgs  []ipv4.Message
	bufs  [][]byte      // each MaxDatagram long: msgs[i].Buffers[0] is bufs[i][:len]
	addrs []net.UDPAddr // msgs[i].Addr is &addrs[i], its IP backed by ips[i]
	ips   [][net.IPv6len]byte
	n     int
}

func newPending(size int) *pending {
	p := &pending{
		msgs: make([]ipv4.Message, size), bufs: make([][]byte, size),
		addrs: make([]net.UDPAddr, size), ips: make([][net.IPv6len]byte, size),
	}
	store := make([]byte, size*MaxDatagram)
	for i := range p.msgs {
		p.bufs[i] = store[i*MaxDatagram : (i+1)*MaxDatagram : (i+1)*MaxDatagram]
		p.msgs[i].Buffers = [][]byte{nil}
		p.msgs[i].Addr = &p.addrs[i]
	}
	return p
}

// New wraps c; batch is how many datagrams one system call sends at most
// (0: DefaultBatch). The Conn owns c: Close closes it.
func New(c *net.UDPConn, batch int) *Conn {
	if batch <= 0 {
		batch = DefaultBatch
	}
	return &Conn{udp: c, batch: ipv4.NewPacketConn(c), size: batch, cur: newPending(batch)}
}

// Begin opens a fan-out: until the matching End, datagrams written to the
// Conn (by any goroutine) wait and leave together.
func (c *Conn) Begin() {
	c.mu.Lock()
	c.open++
	c.mu.Unlock()
}

// End closes a fan-out opened by Begin and sends the datagrams waiting.
func (c *Conn) End() {
	c.mu.Lock()
	c.open--
	p := c.takeLocked()
	if p != nil {
		c.sendMu.Lock() // in order: see sendMu
	}
	c.mu.Unlock()
	if p != nil {
		c.send(p)
	}
}

// takeLocked returns the waiting batch (nil if empty) and puts an empty one
// in its place. The caller locks sendMu before it unlocks mu, then sends.
func (c *Conn) takeLocked() *pending {
	p := c.cur
	if p.n == 0 {
		return nil
	}
	c.inflight++
	if k := len(c.free); k > 0 {
		c.cur = c.free[k-1]
		c.free = c.free[:k-1]
	} else {
		c.cur = newPending(c.size)
	}
	return p
}

// send writes p's datagrams, as many per system call as the kernel takes;
// a datagram the kernel refuses is dropped (counted in Stats) and the rest
// still go. p returns to the free list. The caller holds sendMu; send
// unlocks it.
func (c *Conn) send(p *pending) {
	msgs := p.msgs[:p.n]
	for len(msgs) > 0 {
		n, err := c.batch.WriteBatch(msgs, 0)
		c.syscalls.Add(1)
		if n > 0 {
			c.packets.Add(uint64(n))
		}
		if err != nil {
			if n < 0 {
				n = 0
			}
			n++ // the first datagram not sent is the one refused: skip it
			c.failed.Add(1)
		}
		msgs = msgs[min(n, len(msgs)):]
	}
	c.sendMu.Unlock()
	p.n = 0
	c.mu.Lock()
	c.inflight--
	c.free = append(c.free, p)
	c.mu.Unlock()
}

// WriteToAddrPort writes b to addr: at once outside a fan-out, else into
// the waiting batch (b is copied; it may be reused when this returns).
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	if c.open == 0 || len(b) > MaxDatagram {
		wait := c.inflight > 0 // batches taken before this write leave first
		if wait {
			c.sendMu.Lock()
		}
		c.mu.Unlock()
		n, err := c.udp.WriteToUDPAddrPort(b, addr)
		if wait {
			c.sendMu.Unlock()
		}
		c.syscalls.Add(1)
		if err == nil {
			c.packets.Add(1)
		}
		return n, err
	}
	p := c.cur
	i := p.n
	ip := &p.ips[i]
	*ip = addr.Addr().As16()
	p.addrs[i].IP, p.addrs[i].Port, p.addrs[i].Zone = ip[:], int(addr.Port()), addr.Addr().Zone()
	p.msgs[i].Buffers[0] = p.bufs[i][:copy(p.bufs[i], b)]
	p.n++
	var full *pending
	if p.n == len(p.msgs) {
		full = c.takeLocked()
		c.sendMu.Lock() // in order: see sendMu
	}
	c.mu.Unlock()
	if full != nil {
		c.send(full)
	}
	return len(b), nil
}

// WriteTo implements net.PacketConn (as WriteToAddrPort).
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: errors.New("udpbatch: not a UDP address")}
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// ReadFromAddrPort reads one datagram (ice.AddrPortReaderWriter).
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.udp.ReadFromUDPAddrPort(b)
}

// ReadFrom implements net.PacketConn.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) { return c.udp.ReadFrom(b) }

// Close closes the socket; datagrams still waiting are dropped.
func (c *Conn) Close() error { return c.udp.Close() }

// LocalAddr implements net.PacketConn.
func (c *Conn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (c *Conn) SetDeadline(t time.Time) error { return c.udp.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.udp.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.udp.SetWriteDeadline(t) }

// Stats counts datagrams sent, the system calls that sent them, and
// datagrams the kernel refused inside a batch.
type Stats struct {
	Packets, Syscalls, Failed uint64
}

// Stats returns the counters since New.
func (c *Conn) Stats() Stats {
	return Stats{Packets: c.packets.Load(), Syscalls: c.syscalls.Load(), Failed: c.failed.Load()}
}

// Group brackets fan-outs on several Conns at once (one per ICE address).
// It is safe for concurrent use.
type Group []*Conn

// Begin opens a fan-out on every Conn.
func (g Group) Begin() {
	for _, c := range g {
		c.Begin()
	}
}

// End closes it on every Conn.
func (g Group) End() {
	for _, c := range g {
		c.End()
	}
}

// Stats sums the Conns' counters.
func (g Group) Stats() Stats {
	var s Stats
	for _, c := range g {
		x := c.Stats()
		s.Packets += x.Packets
		s.Syscalls += x.Syscalls
		s.Failed += x.Failed
	}
	return s
}
