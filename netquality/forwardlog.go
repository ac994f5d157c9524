package netquality

import "sync/atomic"

// forwardLogSize is how many packets a ForwardLog remembers: 20 s of Opus,
// about a second of video, far more than a receiver report lags behind.
const forwardLogSize = 1024

// countBits hold a packet's running count in a ForwardLog slot; the 16
// bits above hold its sequence number.
const (
	countBits = 48
	countMask = 1<<countBits - 1
)

// ForwardLog records, by sequence number, the packets of one stream that
// a server forwards to its receivers, so the receivers' reports about the
// stream tell the loss after the server from the loss before it. An SFU
// forwards the publisher's sequence numbers as they are: a packet lost on
// the publisher's uplink is a gap every receiver sees and reports as lost
// (and so is a stretch the server muted), though it never left the
// server. With the log, a receiver report's loss is what the server sent
// in the report's interval minus what the receiver got of it
// (ReportStats.TrackForwarded).
//
// One goroutine calls Record (the track's sink) and any number read; it
// takes no lock and allocates nothing. The zero value is ready to use.
type ForwardLog struct {
	count atomic.Uint64
	// ring[seq % size] holds seq<<countBits | the count after its packet.
	ring [forwardLogSize]atomic.Uint64
}

// Record notes that the packet with sequence number seq was forwarded. A
// packet recorded again while the log still holds it (a duplicate) is
// counted once.
func (l *ForwardLog) Record(seq uint16) {
	slot := &l.ring[seq%forwardLogSize]
	n := l.count.Load()
	if old := slot.Load(); old != 0 && uint16(old>>countBits) == seq && n-old&countMask < forwardLogSize {
		return
	}
	n = l.count.Add(1)
	slot.Store(uint64(seq)<<countBits | n&countMask)
}

// Forwarded returns how many packets had been forwarded when the one with
// sequence number seq was, and false when the log no longer holds it (or
// never did).
func (l *ForwardLog) Forwarded(seq uint16) (uint64, bool) {
	v := l.ring[seq%forwardLogSize].Load()
	if v == 0 || uint16(v>>countBits) != seq {
		return 0, false
	}
	return v & countMask, true
}

// lookBack is how far before a sequence number through looks for the
// latest packet forwarded.
const lookBack = 16

// through returns how many packets had been forwarded up to seq: the count
// at seq, or at the latest of the lookBack sequence numbers before it that
// the log holds (those in between were never forwarded).
func (l *ForwardLog) through(seq uint16) (uint64, bool) {
	for i := range uint16(lookBack) {
		if n, ok := l.Forwarded(seq - i); ok {
			return n, true
		}
	}
	return 0, false
}
