package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
)

// Cameras' uncompressed and G.711 audio is turned into 16-bit PCM here,
// since browsers play neither: the samples are then coded as FLAC, which
// they do play, without losing anything.

// pcmEncoding is how a camera codes its samples on the wire.
type pcmEncoding int

const (
	pcmALaw  pcmEncoding = iota + 1 // G.711 A-law, RTP payload type 8
	pcmMuLaw                        // G.711 µ-law, RTP payload type 0
	pcmL16                          // big-endian signed 16-bit linear PCM
)

// pcmFormat describes a camera's audio stream: how its samples are coded,
// their rate and how many channels are interleaved. It is what the FLAC
// encoder and the viewers' messages are set up from.
type pcmFormat struct {
	Encoding   pcmEncoding
	SampleRate int
	Channels   int
}

// pcmFormatOf is the pcmFormat of an RTSP track, or false for a track
// whose audio is not G.711 or 16-bit linear PCM: only those are converted.
func pcmFormatOf(f format.Format) (pcmFormat, bool) {
	switch f := f.(type) {
	case *format.G711:
		enc := pcmALaw
		if f.MULaw {
			enc = pcmMuLaw
		}
		return pcmFormat{Encoding: enc, SampleRate: f.SampleRate, Channels: f.ChannelCount}, true
	case *format.LPCM:
		if f.BitDepth != 16 {
			return pcmFormat{}, false
		}
		return pcmFormat{Encoding: pcmL16, SampleRate: f.SampleRate, Channels: f.ChannelCount}, true
	}
	return pcmFormat{}, false
}

// name is the encoding as viewers and the log are told it, e.g.
// "G.711 A-law": the same words cameras' manuals use.
func (f pcmFormat) name() string {
	switch f.Encoding {
	case pcmALaw:
		return "G.711 A-law"
	case pcmMuLaw:
		return "G.711 µ-law"
	case pcmL16:
		return "L16"
	}
	return fmt.Sprintf("PCM encoding %d", int(f.Encoding))
}

// decode appends the samples of one packet's payload to dst as 16-bit
// PCM, channels interleaved as they were. A payload that does not hold
// whole samples for every channel is an error rather than a shift of
// every channel that follows.
func (f pcmFormat) decode(dst []int16, payload []byte) ([]int16, error) {
	if f.Channels < 1 {
		return dst, fmt.Errorf("%s: %d channels", f.name(), f.Channels)
	}
	width := 1
	if f.Encoding == pcmL16 {
		width = 2
	}
	if len(payload)%(width*f.Channels) != 0 {
		return dst, fmt.Errorf("%s: %d bytes are not whole samples of %d channels", f.name(), len(payload), f.Channels)
	}
	switch f.Encoding {
	case pcmALaw:
		return decodeG711(dst, payload, &alawTable), nil
	case pcmMuLaw:
		return decodeG711(dst, payload, &mulawTable), nil
	case pcmL16:
		return decodeL16(dst, payload), nil
	}
	return dst, errors.New(f.name() + ": unknown")
}

// alawTable and mulawTable hold the linear value of each of the 256 G.711
// codes, so that decoding a packet is one look-up a sample and allocates
// nothing. They are filled from mediacommon's decoder, which is ITU-T
// G.711's expansion, so the two cannot disagree.
var (
	alawTable  = g711Table(func(codes []byte) []byte { var l g711.Alaw; l.Unmarshal(codes); return l })
	mulawTable = g711Table(func(codes []byte) []byte { var l g711.Mulaw; l.Unmarshal(codes); return l })
)

// g711Table decodes every code with expand, which gives big-endian 16-bit
// samples, into a look-up table.
func g711Table(expand func(codes []byte) []byte) [256]int16 {
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	be := expand(codes)
	var t [256]int16
	for i := range t {
		t[i] = int16(uint16(be[2*i])<<8 | uint16(be[2*i+1]))
	}
	return t
}

// decodeG711 appends the linear value of each code in src to dst.
func decodeG711(dst []int16, src []byte, table *[256]int16) []int16 {
	dst = slices.Grow(dst, len(src))[:len(dst)+len(src)]
	out := dst[len(dst)-len(src):]
	for i, c := range src {
		out[i] = table[c]
	}
	return dst
}

// decodeL16 appends the big-endian 16-bit samples of src, which has an
// even length, to dst.
func decodeL16(dst []int16, src []byte) []int16 {
	n := len(src) / 2
	dst = slices.Grow(dst, n)[:len(dst)+n]
	out := dst[len(dst)-n:]
	for i := range out {
		out[i] = int16(uint16(src[2*i])<<8 | uint16(src[2*i+1]))
	}
	return dst
}
