package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Composition: one mixed audio file per call or room, made at Stop from
// the participants' files. Each file is placed on the call's timeline by
// its start (wall clock, when its first packet arrived); inside a file,
// packets sit where their RTP timestamps put them. Every participant is
// decoded (loss concealed where the file has concealment packets or
// holes), summed with silence where nobody spoke, and encoded to Ogg Opus
// (mono, 48 kHz, CELT at 32 kbit/s) in 20 ms frames.

// composeFrame is the mixing step: 20 ms at 48 kHz.
const composeFrame = 960

// audioPacket is an Opus packet of a participant's file and where it starts.
type audioPacket struct {
	pos  int64 // 48 kHz samples from the start of the file
	data []byte
}

// composeSource is one participant's audio, decoded on demand.
type composeSource struct {
	offset  int64 // where the file starts on the composition's timeline
	packets []audioPacket
	next    int   // next packet to decode
	cur     int64 // position (in the file) of the first sample not yet produced
	dec     Decoder
	buf     []int16 // decoded samples not yet used, starting at cur
	scratch []int16
}

// fill adds the source's samples for [at, at+len(mix)) of the composition
// to mix.
func (s *composeSource) fill(at int64, mix []int32) error {
	start := at - s.offset // in file positions
	for i := range mix {
		p := start + int64(i)
		if p < 0 {
			continue
		}
		for p >= s.cur+int64(len(s.buf)) {
			if err := s.decodeMore(); err != nil {
				return err
			}
			if len(s.buf) == 0 && s.next >= len(s.packets) {
				return nil // the source has ended
			}
		}
		if p >= s.cur {
			mix[i] += int32(s.buf[p-s.cur])
		}
	}
	return nil
}

// decodeMore decodes the next packet (or conceals the hole before it),
// dropping what has been used.
func (s *composeSource) decodeMore() error {
	s.cur += int64(len(s.buf))
	s.buf = s.buf[:0]
	if s.next >= len(s.packets) {
		return nil
	}
	pk := s.packets[s.next]
	if hole := pk.pos - s.cur; hole >= 120 { // a stretch with no packet: conceal it
		n := min(hole-hole%120, 5760)
		got, err := s.dec.Decode(nil, s.scratch[:n])
		if err != nil {
			return err
		}
		s.buf = append(s.buf, s.scratch[:got]...)
		if got == 0 {
			s.cur += n
		}
		return nil
	}
	s.next++
	n := opusSamples(pk.data)
	var got int
	var err error
	if isEmptyFrames(pk.data) {
		got, err = s.dec.Decode(nil, s.scratch[:n])
	} else {
		got, err = s.dec.Decode(pk.data, s.scratch[:5760])
	}
	if err != nil {
		// A packet the decoder refuses becomes concealment of its length.
		if got, err = s.dec.Decode(nil, s.scratch[:n]); err != nil {
			return err
		}
	}
	s.buf = append(s.buf, s.scratch[:got]...)
	if pk.pos > s.cur { // a hole shorter than 2.5 ms: silence
		s.buf = append(make([]int16, pk.pos-s.cur), s.buf...)
	}
	return nil
}

// isEmptyFrames reports whether every frame of p has zero length (a
// concealment packet of our Ogg writer).
func isEmptyFrames(p []byte) bool {
	switch {
	case len(p) == 1:
		return p[0]&3 == 0
	case len(p) == 2:
		return p[0]&3 == 3 && p[1]&0xC0 == 0
	}
	return false
}

// compose mixes the audio of recs (the call's participant recordings)
// into a new recording, saved and returned.
func (r *Recorder) compose(ctx context.Context, t Target, recs []*Recording) (*Recording, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	start := recs[0].StartedAt
	for _, rec := range recs {
		if rec.StartedAt.Before(start) {
			start = rec.StartedAt
		}
	}
	var sources []*composeSource
	var end int64
	for _, rec := range recs {
		pkts, err := r.audioPackets(ctx, rec)
		if err != nil {
			r.cfg.Logger.Warn("recording: composition leaves out a participant", "recording", rec.ID, "err", err)
			continue
		}
		if len(pkts) == 0 {
			continue
		}
		dec, err := r.cfg.Codec.NewDecoder(1)
		if err != nil {
			return nil, err
		}
		s := &composeSource{offset: rec.StartedAt.Sub(start).Nanoseconds() * opusRate / 1e9, packets: pkts, dec: dec, scratch: make([]int16, 5760)}
		last := pkts[len(pkts)-1]
		end = max(end, s.offset+last.pos+int64(opusSamples(last.data)))
		sources = append(sources, s)
	}
	comp := &Recording{
		ID: newID(), Account: t.Account, CallID: t.CallID, SessionID: t.SessionID, Composition: true,
		Type: TypeAudio, Format: FormatOgg, StartedAt: start, Status: StatusRecording,
	}
	f, err := r.cfg.Storage.Create(ctx, comp)
	if err != nil {
		return nil, err
	}
	f = r.counted(f)
	err = r.mix(ctx, f, sources, end)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if fi, serr := f.Stat(); serr == nil {
		comp.Bytes = fi.Size()
	}
	_ = f.Close()
	ended := r.now()
	comp.EndedAt = &ended
	comp.DurationMs = end * 1000 / opusRate
	comp.Status = StatusCompleted
	if err != nil {
		comp.Status, comp.Error = StatusFailed, err.Error()
	}
	if serr := r.cfg.Storage.Save(context.Background(), comp); err == nil {
		err = serr
	}
	return comp.clone(), err
}

// mix writes the sum of sources over [0, end) to w as Ogg Opus.
func (r *Recorder) mix(ctx context.Context, w io.Writer, sources []*composeSource, end int64) error {
	enc, err := r.cfg.Codec.NewEncoder(1)
	if err != nil {
		return err
	}
	ow, err := NewOggWriter(w, OggOptions{Channels: 1})
	if err != nil {
		return err
	}
	mix := make([]int32, composeFrame)
	pcm := make([]int16, composeFrame)
	out := make([]byte, 1500)
	for at := int64(0); at < end; at += composeFrame {
		if at%(opusRate*10) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		clear(mix)
		for _, s := range sources {
			if err := s.fill(at, mix); err != nil {
				return err
			}
		}
		for i, v := range mix {
			pcm[i] = int16(max(-32768, min(32767, v)))
		}
		n, err := enc.Encode(pcm, out)
		if err != nil {
			return err
		}
		if err := ow.WritePacket(at, out[:n]); err != nil {
			return err
		}
		if at%(opusRate*2) == 0 {
			if err := ow.Flush(); err != nil {
				return err
			}
		}
	}
	return ow.Close()
}

// audioPackets reads the Opus packets of a participant's file with their
// positions.
func (r *Recorder) audioPackets(ctx context.Context, rec *Recording) ([]audioPacket, error) {
	f, err := r.cfg.Storage.Open(ctx, rec, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []audioPacket
	switch rec.Format {
	case FormatOgg:
		or := newOggReader(f)
		var pos int64
		for {
			p, err := or.next()
			if errors.Is(err, io.EOF) || errors.Is(err, errOggCorrupt) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			if p.seq < 2 {
				continue // OpusHead, OpusTags
			}
			for _, pk := range p.packets {
				out = append(out, audioPacket{pos: pos, data: pk})
				pos += int64(opusSamples(pk))
			}
		}
	case FormatWebM:
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		_, err = scanWebM(f, fi.Size(), func(b webmBlock) {
			if b.track == webmAudioTrack {
				out = append(out, audioPacket{pos: b.ms * opusRate / 1000, data: append([]byte(nil), b.data...)})
			}
		})
		return out, err
	}
	return nil, fmt.Errorf("format %q", rec.Format)
}
