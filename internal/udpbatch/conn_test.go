package udpbatch

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func listen(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readN(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < n {
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

func addrPort(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func TestWritesOutsideAFanOutLeaveAtOnce(t *testing.T) {
	dst := listen(t, "127.0.0.1:0")
	c := New(listen(t, "127.0.0.1:0"), 0)
	for i := range 3 {
		if n, err := c.WriteToAddrPort([]byte{byte(i)}, addrPort(dst)); n != 1 || err != nil {
			t.Fatal(n, err)
		}
	}
	got := readN(t, dst, 3)
	for i, b := range got {
		if !bytes.Equal(b, []byte{byte(i)}) {
			t.Fatalf("datagram %d = %v", i, b)
		}
	}
	if s := c.Stats(); s.Packets != 3 || s.Syscalls != 3 {
		t.Fatalf("stats %+v, want 3 packets in 3 calls", s)
	}
}

func TestFanOutLeavesInOneCallInOrder(t *testing.T) {
	dsts := []*net.UDPConn{listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")}
	c := New(listen(t, "127.0.0.1:0"), 0)
	c.Begin()
	buf := make([]byte, 100)
	for i := range 9 {
		for j := range buf {
			buf[j] = byte(i)
		}
		if _, err := c.WriteToAddrPort(buf, addrPort(dsts[i%3])); err != nil {
			t.Fatal(err)
		}
		buf[0] = 0xff // the caller reuses its buffer: what was written must not change
	}
	if s := c.Stats(); s.Syscalls != 0 {
		t.Fatalf("sent before End: %+v", s)
	}
	c.End()
	if s := c.Stats(); s.Packets != 9 || s.Syscalls != 1 {
		t.Fatalf("stats %+v, want 9 packets in 1 call", s)
	}
	for k, d := range dsts {
		for n, b := range readN(t, d, 3) {
			want := byte(k + 3*n)
			if len(b) != 100 || b[0] != want || b[99] != want {
				t.Fatalf("destination %d datagram %d = %d bytes starting %d, want 100 of %d", k, n, len(b), b[0], want)
			}
		}
	}
}

func TestBatchAtItsSizeAndOnePast(t *testing.T) {
	for _, tc := range []struct{ writes, calls int }{{4, 1}, {5, 2}, {8, 2}, {9, 3}} {
		t.Run(fmt.Sprint(tc.writes), func(t *testing.T) {
			dst := listen(t, "127.0.0.1:0")
			c := New(listen(t, "127.0.0.1:0"), 4)
			c.Begin()
			for i := range tc.writes {
				_, _ = c.WriteToAddrPort([]byte{byte(i)}, addrPort(dst))
			}
			c.End()
			if s := c.Stats(); s.Packets != uint64(tc.writes) || s.Syscalls != uint64(tc.calls) {
				t.Fatalf("stats %+v, want %d packets in %d calls", s, tc.writes, tc.calls)
			}
			for i, b := range readN(t, dst, tc.writes) {
				if b[0] != byte(i) {
					t.Fatalf("datagram %d = %d: out of order", i, b[0])
				}
			}
		})
	}
}

func TestOversizedDatagramGoesAlone(t *testing.T) {
	dst := listen(t, "127.0.0.1:0")
	c := New(listen(t, "127.0.0.1:0"), 0)
	c.Begin()
	_, _ = c.WriteToAddrPort(make([]byte, MaxDatagram), addrPort(dst))   // at the limit: waits
	_, _ = c.WriteToAddrPort(make([]byte, MaxDatagram+1), addrPort(dst)) // one past: at once
	if s := c.Stats(); s.Syscalls != 1 || s.Packets != 1 {
		t.Fatalf("stats %+v, want the oversized one sent alone", s)
	}
	c.End()
	got := readN(t, dst, 2)
	if len(got[0]) != MaxDatagram+1 || len(got[1]) != MaxDatagram {
		t.Fatalf("sizes %d, %d", len(got[0]), len(got[1]))
	}
}

func TestDualStackSocketSendsToIPv4(t *testing.T) {
	src, err := net.ListenUDP("udp", &net.UDPAddr{}) // [::]: both families
	if err != nil {
		t.Fatal(err)
	}
	c := New(src, 0)
	defer c.Close()
	dst := listen(t, "127.0.0.1:0")
	c.Begin()
	_, _ = c.WriteTo([]byte("v4"), dst.LocalAddr())
	c.End()
	if got := readN(t, dst, 1); string(got[0]) != "v4" {
		t.Fatalf("got %q", got[0])
	}
	if s := c.Stats(); s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRefusedDatagramDoesNotStopTheRest(t *testing.T) {
	dst := listen(t, "127.0.0.1:0")
	c := New(listen(t, "127.0.0.1:0"), 0)
	c.Begin()
	_, _ = c.WriteToAddrPort([]byte("a"), addrPort(dst))
	_, _ = c.WriteToAddrPort([]byte("bad"), netip.MustParseAddrPort("[::1]:9")) // an IPv4 socket cannot send to IPv6
	_, _ = c.WriteToAddrPort([]byte("b"), addrPort(dst))
	c.End()
	got := readN(t, dst, 2)
	if string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("got %q %q", got[0], got[1])
	}
	if s := c.Stats(); s.Failed != 1 || s.Packets != 2 {
		t.Fatalf("stats %+v, want 2 sent and 1 refused", s)
	}
}

func TestWriteToRejectsOtherAddresses(t *testing.T) {
	c := New(listen(t, "127.0.0.1:0"), 0)
	if _, err := c.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("a TCP address was accepted")
	}
}

// TestConcurrentFanOuts: writers on several goroutines, some inside
// fan-outs and some not, lose nothing and keep each writer's order.
func TestConcurrentFanOuts(t *testing.T) {
	dst := listen(t, "127.0.0.1:0")
	_ = dst.SetReadBuffer(4 << 20)
	c := New(listen(t, "127.0.0.1:0"), 8)
	const writers, rounds, per = 4, 50, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			seq := 0
			for range rounds {
				if w%2 == 0 {
					c.Begin()
				}
				for range per {
					_, _ = c.WriteToAddrPort([]byte{byte(w), byte(seq)}, addrPort(dst))
					seq++
				}
				if w%2 == 0 {
					c.End()
				}
			}
		})
	}
	wg.Wait()
	next := make([]int, writers)
	for _, b := range readN(t, dst, writers*rounds*per) {
		w, seq := int(b[0]), int(b[1])
		if seq != next[w]%256 {
			t.Fatalf("writer %d: datagram %d after %d", w, seq, next[w]-1)
		}
		next[w]++
	}
}

// BenchmarkFanOut sends one 108-byte datagram to each of 9 destinations
// per operation (an audio packet forwarded to the rest of a room of 10),
// one sendto each or one batch, while the destinations drain on other
// goroutines.
func BenchmarkFanOut(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := map[bool]string{false: "sendto", true: "sendmmsg"}[batched]
		b.Run(name, func(b *testing.B) {
			var dsts []netip.AddrPort
			var wg sync.WaitGroup
			b.Cleanup(wg.Wait) // after the sockets close (cleanups run last first)
			for range 9 {
				d := listen(b, "127.0.0.1:0")
				dsts = append(dsts, addrPort(d))
				wg.Go(func() {
					buf := make([]byte, 2048)
					for {
						if _, _, err := d.ReadFromUDPAddrPort(buf); err != nil {
							return
						}
					}
				})
			}
			c := New(listen(b, "127.0.0.1:0"), 0)
			pkt := make([]byte, 108)
			b.ReportAllocs()
			for b.Loop() {
				if batched {
					c.Begin()
				}
				for _, d := range dsts {
					_, _ = c.WriteToAddrPort(pkt, d)
				}
				if batched {
					c.End()
				}
			}
			s := c.Stats()
			b.ReportMetric(float64(s.Syscalls)/float64(s.Packets), "syscalls/packet")
		})
	}
}

// TestWritersOrderUnderContention: a batch that one goroutine fills and
// takes holds other goroutines' datagrams; while its system call is still
// sending, their next datagrams (in the next batch, or written directly)
// must not overtake them. Each writer's datagrams arrive in the order
// written (the receiver may drop some; order is what is checked).
func TestWritersOrderUnderContention(t *testing.T) {
	dst := listen(t, "127.0.0.1:0")
	_ = dst.SetReadBuffer(4 << 20)
	c := New(listen(t, "127.0.0.1:0"), DefaultBatch)
	const writers, rounds, per = 4, 300, 10
	done := make(chan error, 1)
	go func() {
		last := make([]int, writers)
		for i := range last {
			last[i] = -1
		}
		buf := make([]byte, 2048)
		for {
			k, _, err := dst.ReadFromUDP(buf)
			if err != nil || k < 3 {
				done <- nil // the socket closed: every datagram read was in order
				return
			}
			w, seq := int(buf[0]), int(buf[1])<<8|int(buf[2])
			if seq <= last[w] {
				done <- fmt.Errorf("writer %d: datagram %d after %d", w, seq, last[w])
				return
			}
			last[w] = seq
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			pkt := make([]byte, 1200) // large, so that a batch's system call takes a while
			pkt[0] = byte(w)
			seq := 0
			for r := range rounds {
				fanOut := w != 0 || r%2 == 0 // writer 0 alternates fan-outs and direct writes
				if fanOut {
					c.Begin()
				}
				for range per {
					pkt[1], pkt[2] = byte(seq>>8), byte(seq)
					_, _ = c.WriteToAddrPort(pkt, addrPort(dst))
					seq++
				}
				if fanOut {
					c.End()
				}
			}
		})
	}
	wg.Wait()
	// An end marker from this goroutine, then close once it is read.
	_, _ = c.WriteToAddrPort([]byte{0}, addrPort(dst))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFanOutParallel: BenchmarkFanOut's batched fan-out from four
// goroutines at once, whose batches mix and whose sends are ordered.
func BenchmarkFanOutParallel(b *testing.B) {
	var dsts []netip.AddrPort
	var wg sync.WaitGroup
	b.Cleanup(wg.Wait)
	for range 9 {
		d := listen(b, "127.0.0.1:0")
		_ = d.SetReadBuffer(4 << 20)
		dsts = append(dsts, addrPort(d))
		wg.Go(func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := d.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		})
	}
	c := New(listen(b, "127.0.0.1:0"), 0)
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		pkt := make([]byte, 108)
		for pb.Next() {
			c.Begin()
			for _, d := range dsts {
				_, _ = c.WriteToAddrPort(pkt, d)
			}
			c.End()
		}
	})
	s := c.Stats()
	b.ReportMetric(float64(s.Syscalls)/float64(s.Packets), "syscalls/packet")
}

// A batched datagram is addressed as written, zone included (a link-local
// IPv6 peer, fe80::…%eth0, is unreachable without it: the kernel refuses
// a link-local destination with no interface). ::1 with a zone is what a
// test may send to; the kernel ignores the zone there.
func TestBatchedAddressKeepsTheZone(t *testing.T) {
	dst := listen(t, "[::1]:0")
	c := New(listen(t, "[::1]:0"), 0)
	to := netip.AddrPortFrom(netip.MustParseAddr("::1").WithZone("lo"), addrPort(dst).Port())
	c.Begin()
	_, _ = c.WriteToAddrPort([]byte("z"), to)
	c.mu.Lock()
	got := c.cur.msgs[0].Addr.(*net.UDPAddr).AddrPort()
	c.mu.Unlock()
	c.End()
	if got != to {
		t.Fatalf("batched to %v, written to %v", got, to)
	}
	if b := readN(t, dst, 1); string(b[0]) != "z" {
		t.Fatalf("got %q", b[0])
	}
}
