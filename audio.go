package main

import (
	"fmt"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/flac"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Audio formats: what cameras send, and what decoder muxes. Browsers play
// AAC, FLAC and Opus in fragmented MP4; G.711 and L16 must be converted.
const (
	audioAAC   = "AAC"
	audioOpus  = "Opus"
	audioFLAC  = "FLAC"
	audioALaw  = "G.711 A-law"
	audioMuLaw = "G.711 µ-law"
	audioL16   = "L16"
)

// AAC frame lengths: samples in an access unit, or aacShortFrameSamples
// where the config's frame length flag is set.
const (
	aacFrameSamples      = 1024
	aacShortFrameSamples = 960
)

// opusRate is the clock of every Opus stream, whatever its input rate.
const opusRate = 48000

// audioSetup is an audio track: a camera's, or the one a muxer writes.
type audioSetup struct {
	format   string
	rate     int // samples per second, and the track's timescale
	channels int
	aac      *mpeg4audio.AudioSpecificConfig // AAC only
	flac     *flac.StreamInfo                // FLAC only
	pcm      pcmFormat                       // G.711 and L16 only
}

// aacSetup describes an AAC track.
func aacSetup(cfg mpeg4audio.AudioSpecificConfig) *audioSetup {
	ch := cfg.ChannelCount
	if ch == 0 {
		ch = int(cfg.ChannelConfig)
	}
	return &audioSetup{format: audioAAC, rate: cfg.SampleRate, channels: ch, aac: &cfg}
}

// muxable reports whether browsers can play the track in fragmented MP4.
func (a *audioSetup) muxable() bool {
	return a.format == audioAAC || a.format == audioFLAC || a.format == audioOpus
}

// family is the track's codec family as a page lists it in codecs=, or ""
// for what no browser plays.
func (a *audioSetup) family() string {
	switch a.format {
	case audioAAC:
		return familyAAC
	case audioFLAC:
		return familyFLAC
	case audioOpus:
		return familyOpus
	}
	return ""
}

// codecString is the track's entry in a MIME type's codecs.
func (a *audioSetup) codecString() string {
	switch a.format {
	case audioAAC:
		return aacCodecString(a.aac)
	case audioFLAC:
		return "flac"
	case audioOpus:
		return "opus"
	}
	return ""
}

// initCodec is the track's sample entry in an init segment.
func (a *audioSetup) initCodec() codecs.Codec {
	switch a.format {
	case audioAAC:
		return &codecs.MPEG4Audio{Config: *a.aac}
	case audioFLAC:
		return &codecs.FLAC{StreamInfo: a.flac}
	case audioOpus:
		return &codecs.Opus{ChannelCount: a.channels}
	}
	return nil
}

// key tells tracks apart, for deciding whether a new init is needed.
func (a *audioSetup) key() string {
	if a == nil {
		return ""
	}
	k := a.format + "/" + strconv.Itoa(a.rate) + "/" + strconv.Itoa(a.channels)
	if a.aac != nil {
		k += fmt.Sprintf("/%+v", *a.aac)
	}
	if a.flac != nil {
		k += fmt.Sprintf("/%+v", *a.flac)
	}
	return k
}

// samplesOf is the number of samples (per channel) in one access unit of
// the track: AAC's fixed frame length, an Opus packet's duration, or a PCM
// packet's length.
func (a *audioSetup) samplesOf(au []byte) int {
	switch a.format {
	case audioAAC:
		if a.aac.FrameLengthFlag {
			return aacShortFrameSamples
		}
		return aacFrameSamples
	case audioOpus:
		return int(opus.PacketDuration2(au))
	case audioALaw, audioMuLaw:
		return len(au) / max(a.channels, 1)
	case audioL16:
		return len(au) / 2 / max(a.channels, 1)
	}
	return 0
}

// audioFrame is one access unit and its length in samples.
type audioFrame struct {
	data    []byte
	samples int
}
