package recording

import "github.com/tphakala/go-opus/opus"

// Codec makes the Opus decoders and the encoder that compositions use
// (48 kHz, interleaved 16-bit samples). Implementations must be safe for
// concurrent use; the decoders and encoders they return need not be.
type Codec interface {
	NewDecoder(channels int) (Decoder, error)
	NewEncoder(channels int) (Encoder, error)
}

// Decoder decodes one stream's packets, in order.
type Decoder interface {
	// Decode decodes packet into pcm and returns the samples per channel;
	// a nil packet conceals a lost one as long as pcm (per channel).
	Decode(packet []byte, pcm []int16) (int, error)
}

// Encoder encodes one stream, 20 ms at a time.
type Encoder interface {
	// Encode encodes 20 ms of pcm into out and returns the packet's length.
	Encode(pcm []int16, out []byte) (int, error)
}

// goOpus is the default Codec: github.com/tphakala/go-opus, a pure-Go port
// of libopus (decodes SILK, CELT and hybrid; encodes CELT).
type goOpus struct{}

var _ Codec = goOpus{}

func (goOpus) NewDecoder(channels int) (Decoder, error) { return opus.NewDecoder(48000, channels) }

func (goOpus) NewEncoder(channels int) (Encoder, error) {
	return opus.NewEncoder(opus.EncoderConfig{SampleRate: 48000, Channels: channels, Bitrate: 32000 * channels})
}
