package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// The init segment and message of a stream, and the clock conversions of
// the muxer.

// builtInit is a mediaInit with the figures the muxer uses itself.
type builtInit struct {
	*mediaInit
	fps float64
}

// buildInit makes the init message and segment for setup, with its audio
// track if carries says so.
func buildInit(setup trackSetup, carries func(*audioSetup) bool) (builtInit, error) {
	info := initInfo{Type: msgInit, Video: videoInfo{Format: setup.video}}
	var videoCodec codecs.Codec
	var err error
	switch setup.video {
	case formatH264:
		var sps h264.SPS
		if err := sps.Unmarshal(setup.sps); err != nil {
			return builtInit{}, fmt.Errorf("invalid H.264 SPS: %w", err)
		}
		info.Video.Width, info.Video.Height, info.Video.FPS = sps.Width(), sps.Height(), sps.FPS()
		info.Video.Codec, err = h264CodecString(setup.sps)
		videoCodec = &codecs.H264{SPS: setup.sps, PPS: setup.pps}
	case formatH265:
		var sps h265.SPS
		if err := sps.Unmarshal(setup.sps); err != nil {
			return builtInit{}, fmt.Errorf("invalid H.265 SPS: %w", err)
		}
		info.Video.Width, info.Video.Height, info.Video.FPS = sps.Width(), sps.Height(), sps.FPS()
		info.Video.Codec, err = h265CodecString(setup.sps)
		videoCodec = &codecs.H265{VPS: setup.vps, SPS: setup.sps, PPS: setup.pps}
	default:
		return builtInit{}, fmt.Errorf("unsupported video format %q", setup.video)
	}
	if err != nil {
		return builtInit{}, err
	}
	if !(info.Video.FPS >= 1 && info.Video.FPS <= 240) {
		info.Video.FPS = 0 // absent or nonsense timing info (NaN included)
	}
	info.Video.FPS = float64(int(info.Video.FPS*100+0.5)) / 100
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: videoTrackID, TimeScale: videoTimescale, Codec: videoCodec}}}
	codecList := info.Video.Codec
	if a := setup.audio; a != nil && carries(a) {
		info.Audio = &audioInfo{Codec: a.codecString(), Format: a.format, SampleRate: a.rate, Channels: a.channels}
		codecList += "," + info.Audio.Codec
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: audioTrackID, TimeScale: uint32(a.rate), Codec: a.initCodec()})
	}
	info.MIME = `video/mp4; codecs="` + codecList + `"`
	info.Transcode, info.Note = setup.transcode, setup.note
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return builtInit{}, fmt.Errorf("failed to write the init segment: %w", err)
	}
	infoJSON, _ := json.Marshal(info)
	mi := &mediaInit{info: infoJSON, segment: buf.Bytes(), video: info.Video, audio: setup.audio}
	return builtInit{mediaInit: mi, fps: info.Video.FPS}, nil
}

// toClock converts d to ticks of a clock of rate Hz without overflowing
// for long-running streams.
func toClock(d time.Duration, rate int) int64 {
	return int64(d/time.Second)*int64(rate) + int64(d%time.Second)*int64(rate)/int64(time.Second)
}

// fromClock converts ticks of a clock of rate Hz to a duration.
func fromClock(ticks int64, rate int) time.Duration {
	r := int64(rate)
	return time.Duration(ticks/r)*time.Second + time.Duration(ticks%r)*time.Second/time.Duration(r)
}
