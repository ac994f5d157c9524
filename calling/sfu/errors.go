package sfu

import "errors"

var (
	// ErrClosed is returned by Attach on a track that has been closed.
	ErrClosed = errors.New("sfu: track closed")
	// ErrForwarding is returned by Forward when the track already has a
	// source.
	ErrForwarding = errors.New("sfu: track already forwarding")
	// ErrCodec is returned by NewTrack when TrackConfig.Codec is not an
	// audio or video codec.
	ErrCodec = errors.New("sfu: codec is neither audio nor video")
)
