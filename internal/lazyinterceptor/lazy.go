// Package lazyinterceptor makes a pion interceptor for a PeerConnection
// only when a stream that needs it is bound. pion's NACK generator and
// TWCC feedback sender start a goroutine (and a ticker) per
// PeerConnection as soon as it is made, although on an audio-only
// PeerConnection they have nothing to do; wrapped, they cost nothing there.
//
// It suits interceptors that write RTCP and read remote streams (it hands
// them the RTCP writer and the remote streams that need them) and do not
// read the incoming RTCP or touch local streams: pion's
// nack.GeneratorInterceptor and twcc.SenderInterceptor.
package lazyinterceptor

import (
	"sync"

	"github.com/pion/interceptor"
)

// Factory wraps an interceptor.Factory. It is safe for concurrent use.
type Factory struct {
	inner interceptor.Factory
	needs func(*interceptor.StreamInfo) bool
}

// New returns a Factory whose interceptors build inner's only for the
// first remote stream for which needs is true.
func New(inner interceptor.Factory, needs func(*interceptor.StreamInfo) bool) *Factory {
	return &Factory{inner: inner, needs: needs}
}

// NewInterceptor implements interceptor.Factory.
func (f *Factory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	return &lazy{f: f, id: id}, nil
}

// HasFeedback is a needs function: the stream negotiated RTCP feedback of
// this type (parameter empty), e.g. "nack" or "transport-cc".
func HasFeedback(typ string) func(*interceptor.StreamInfo) bool {
	return func(info *interceptor.StreamInfo) bool {
		for _, fb := range info.RTCPFeedback {
			if fb.Type == typ && fb.Parameter == "" {
				return true
			}
		}
		return false
	}
}

type lazy struct {
	interceptor.NoOp
	f  *Factory
	id string

	mu     sync.Mutex
	w      interceptor.RTCPWriter
	inner  interceptor.Interceptor // nil until a stream needs it
	closed bool
}

func (l *lazy) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	l.mu.Lock()
	l.w = w
	l.mu.Unlock()
	return w
}

func (l *lazy) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if !l.f.needs(info) {
		return r
	}
	l.mu.Lock()
	if l.inner == nil && !l.closed && l.w != nil {
		if in, err := l.f.inner.NewInterceptor(l.id); err == nil {
			in.BindRTCPWriter(l.w)
			l.inner = in
		}
	}
	in := l.inner
	l.mu.Unlock()
	if in == nil {
		return r
	}
	return in.BindRemoteStream(info, r)
}

func (l *lazy) UnbindRemoteStream(info *interceptor.StreamInfo) {
	l.mu.Lock()
	in := l.inner
	l.mu.Unlock()
	if in != nil {
		in.UnbindRemoteStream(info)
	}
}

func (l *lazy) Close() error {
	l.mu.Lock()
	l.closed = true
	in := l.inner
	l.mu.Unlock()
	if in != nil {
		return in.Close()
	}
	return nil
}
