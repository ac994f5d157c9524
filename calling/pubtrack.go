package calling

import (
	"context"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// pubTrack is a track a peer publishes: the SFU's track (which subscribers'
// PeerConnections and sinks receive) and what calling keeps beside it.
// owner and alias are fixed; forwarding is its publisher's loop's; stop is
// set before the track is shared.
type pubTrack struct {
	*sfu.Track
	owner      *peer
	alias      string
	forwarding bool               // Forward runs (loop only)
	stop       context.CancelFunc // ends the TrackObserver's ctx; nil without an observer
}

// newTrack makes the track of publication pub received on recv, puts it in
// the room and hands it to the TrackObserver. The caller reports the
// streams. Nil if codec is neither audio nor video.
func (p *peer) newTrack(pub Publication, recv *webrtc.RTPReceiver, codec webrtc.RTPCodecParameters) *pubTrack {
	pc := p.st.pc
	t, err := sfu.NewTrack(sfu.TrackConfig{
		ID: pub.Alias, StreamID: p.pid, Codec: codec, Negotiated: recv.GetParameters().Codecs,
		Keyframe: func(ssrc uint32) {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		},
		Muted: p.st.mutes[pub.Alias], // announced muted, or muted before its media
		Clock: p.srv.clock,
	})
	if err != nil {
		p.log.Warn("publish", "track", pub.Alias, "codec", codec.MimeType, "err", err)
		return nil
	}
	pt := &pubTrack{Track: t, owner: p, alias: pub.Alias}
	p.st.fwd[recv] = pt
	p.st.published[pub.Alias] = pt
	p.room.publish(trackKey{p.pid, pub.Alias}, pt)
	p.observe(pt)
	return pt
}

// observe hands pt to Config.TrackObserver on a goroutine of the server's,
// with a context that pt.close ends.
func (p *peer) observe(pt *pubTrack) {
	obs := p.srv.cfg.TrackObserver
	if obs == nil {
		return
	}
	// Not derived from the server's context: it ends only after the track is
	// closed, also when the server shuts down (every peer leaves its session).
	ctx, stop := context.WithCancel(context.Background())
	pt.stop = stop
	info := PublishedTrack{
		Account: p.claims.Account, SessionID: p.room.key.session, ParticipantID: p.pid, Identity: p.identity,
		StreamAlias: pt.alias, Kind: pt.Kind(), Codec: pt.Codec(), Track: pt.Track,
	}
	if p.call != nil {
		info.CallID = p.call.ID
	}
	p.srv.wg.Add(1)
	go func() {
		defer p.srv.wg.Done()
		obs.TrackPublished(ctx, info)
	}()
}

// close ends the track (nothing more is forwarded, its sinks are detached)
// and then its observer's context. Safe to call more than once, from any
// goroutine.
func (pt *pubTrack) close() {
	pt.Track.Close()
	if pt.stop != nil {
		pt.stop()
	}
}
