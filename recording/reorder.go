package recording

// The writer side of a track: packets back in sequence order, and RTP
// timestamps on the file's timeline.

// packet is one RTP packet copied off the forwarding path into a pooled
// buffer.
type packet struct {
	seq     uint16
	ts      uint32
	marker  bool
	arrival int64 // Clock.Now() at WriteRTP, in Unix nanoseconds
	data    []byte
	buf     [1500]byte
}

func (p *packet) set(seq uint16, ts uint32, marker bool, arrival int64, payload []byte) {
	p.seq, p.ts, p.marker, p.arrival = seq, ts, marker, arrival
	if len(payload) <= len(p.buf) {
		p.data = append(p.buf[:0], payload...)
	} else {
		p.data = append([]byte(nil), payload...)
	}
}

// inOrder is a packet released by the reorder buffer, with the number of
// packets missing just before it.
type inOrder struct {
	p    *packet
	lost int
}

// reorder puts packets back in sequence order. It holds at most max
// packets: when it holds more, the oldest is released and the missing
// packets before it are counted lost.
type reorder struct {
	max     int
	started bool
	next    uint16
	buf     []*packet
	// dropped receives packets that are released to no one (late or duplicate).
	dropped func(*packet)
}

// push adds p and appends to out what is now in order.
func (r *reorder) push(p *packet, out []inOrder) []inOrder {
	if !r.started {
		r.started, r.next = true, p.seq
	}
	d := int16(p.seq - r.next)
	if d < -int16(4*r.max+64) { // far behind: the sender restarted its sequence
		out = r.drain(out)
		r.next, d = p.seq, 0
	}
	if d < 0 {
		r.dropped(p) // late: its place was given up already
		return out
	}
	i := len(r.buf)
	for i > 0 && int16(r.buf[i-1].seq-r.next) > d {
		i--
	}
	if i > 0 && r.buf[i-1].seq == p.seq {
		r.dropped(p) // duplicate
		return out
	}
	r.buf = append(r.buf, nil)
	copy(r.buf[i+1:], r.buf[i:])
	r.buf[i] = p
	for len(r.buf) > 0 && (r.buf[0].seq == r.next || len(r.buf) > r.max) {
		out = r.release(out)
	}
	return out
}

// release hands out the oldest packet held.
func (r *reorder) release(out []inOrder) []inOrder {
	p := r.buf[0]
	lost := int(uint16(p.seq - r.next))
	r.next = p.seq + 1
	r.buf = append(r.buf[:0], r.buf[1:]...)
	return append(out, inOrder{p, lost})
}

// drain releases everything held, in order.
func (r *reorder) drain(out []inOrder) []inOrder {
	for len(r.buf) > 0 {
		out = r.release(out)
	}
	return out
}

// maxTimestampJump is the largest step between two consecutive packets'
// RTP timestamps taken at face value; a larger one (a sender that
// restarted its clock) is replaced by the time between their arrivals.
const maxTimestampJump = 60 // seconds

// trackClock maps a track's RTP timestamps onto the file's timeline (in
// units of the RTP clock, from the file's start).
type trackClock struct {
	rate        int64
	started     bool
	lastTS      uint32
	lastArrival int64
	pos         int64
}

// position returns the timeline position of a packet with timestamp ts;
// start gives the position of the track's first packet.
func (c *trackClock) position(ts uint32, arrival int64, start func() int64) int64 {
	if !c.started {
		c.started, c.lastTS, c.lastArrival, c.pos = true, ts, arrival, start()
		return c.pos
	}
	d := int64(int32(ts - c.lastTS))
	if d > maxTimestampJump*c.rate || d < -maxTimestampJump*c.rate {
		d = max(0, (arrival-c.lastArrival)*c.rate/1e9)
	}
	c.pos += d
	c.lastTS, c.lastArrival = ts, arrival
	return c.pos
}
