package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Video formats decoder relays.
const (
	formatH264 = "H.264"
	formatH265 = "H.265"
)

// Track IDs and the video timescale of every init segment decoder makes.
const (
	videoTrackID   = 1
	audioTrackID   = 2
	videoTimescale = 90000
	// aacFrameSamples is the length of an AAC access unit, or
	// aacShortFrameSamples where the config's frame length flag is set.
	aacFrameSamples      = 1024
	aacShortFrameSamples = 960
	// maxFrameDuration caps the duration given to a frame after a pause in
	// the source, in videoTimescale units.
	maxFrameDuration = videoTimescale
	// audioResync is how far, in fractions of a second, audio timestamps
	// may wander from the sample count before it is reset to them.
	audioResync = 10
	// audioBehindLimit is how many audio packets in a row may go back in
	// time before the muxer takes their clock as the new one.
	audioBehindLimit = 50
)

// trackSetup is what a source declares of its tracks when it connects.
type trackSetup struct {
	video string // formatH264 or formatH265
	// Parameter sets from the SDP or the container; nil when only the
	// stream carries them.
	vps, sps, pps []byte
	audio         *mpeg4audio.AudioSpecificConfig // nil without audio
}

// dtsExtractor times frames in decode order; H.264 and H.265 each have one.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// muxer turns one source's access units into fragmented MP4 for its feed,
// once, whatever the number of viewers: every frame becomes one fragment
// (moof+mdat) that all viewers share, so a frame is on its way to them as
// soon as it arrives.
//
// It outlives the source's connections: each (re)connection calls reset,
// and the output timeline carries on where the last one stopped, so a
// viewer's player sees one stream. A new init is published, always just
// before a keyframe, when the codec, parameter sets or audio change.
//
// Its methods are safe for concurrent use: an RTSP client may deliver audio
// and video on different goroutines. They never block.
type muxer struct {
	feed *Feed

	mu    sync.Mutex
	setup trackSetup // newest parameter sets included
	// init is the init for the current parameters; published is the one
	// viewers were last given.
	init, published *mediaInit
	initKey         string
	dts             dtsExtractor
	// waitKey drops frames until a keyframe: after a (re)connection, a
	// loss, or when the stream cannot be timed.
	waitKey bool
	// offset maps this connection's video timestamps onto the output
	// timeline; set at its first keyframe.
	offset    int64
	offsetSet bool
	connLive  bool
	// held is the newest frame, published when the next one gives its
	// exact duration: a player (Chrome's MSE among them) drops frames up
	// to the next keyframe when one frame's decode time is further from the
	// last than twice that frame's duration, which guessed durations cause
	// with B-frames and after a lost frame. It costs one frame of latency.
	held *heldFrame
	// The output timeline, in videoTimescale units, and in samples for
	// audio.
	lastDTS     int64 // of the newest frame muxed, held or published
	maxPTS      int64 // the latest presentation time so far
	hasLast     bool
	frameDur    int64
	audioNext   int64
	audioSynced bool
	audioBehind int // packets in a row that went back in time
	seq         uint32
}

// heldFrame is a muxed frame waiting for its duration.
type heldFrame struct {
	dts, pts int64 // on the output timeline
	key      bool
	payload  []byte
	init     *mediaInit // the init a keyframe needs
}

func newMuxer(feed *Feed) *muxer {
	return &muxer{feed: feed, frameDur: videoTimescale / 25}
}

// reset starts a new connection of the source with these tracks. The frame
// held from the last connection goes out first.
func (m *muxer) reset(setup trackSetup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushHeld(m.frameDur)
	m.setup = setup
	m.waitKey = true
	m.offsetSet = false
	m.connLive = false
	m.audioSynced = false
	m.dts = nil
}

// end ends the current connection: the held frame goes out (a viewer
// should not wait through a reconnection for it), and end reports whether
// the connection delivered video.
func (m *muxer) end() (live bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushHeld(m.frameDur)
	live, m.connLive = m.connLive, false
	return live
}

// lost tells the muxer that the source lost packets: what follows may
// depend on what was lost, so it waits for a keyframe.
func (m *muxer) lost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waitKey = true
}

// writeVideo muxes one access unit with its presentation time on the
// connection's clock. Frames before the connection's first keyframe, and
// those that cannot be timed, are dropped. An error means that the stream
// cannot be played, such as an SPS that does not parse.
func (m *muxer) writeVideo(pts time.Duration, au [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	nalus := m.takeParameterSets(au)
	if len(nalus) == 0 {
		return nil
	}
	key := m.isKeyframe(nalus)
	if m.waitKey && !key {
		return nil
	}
	if key {
		if len(m.setup.sps) == 0 || len(m.setup.pps) == 0 || (m.setup.video == formatH265 && len(m.setup.vps) == 0) {
			return nil // parameter sets not seen yet: wait for the next keyframe
		}
		if err := m.updateInit(); err != nil {
			return permanent(err)
		}
	}
	pts90 := toClock(pts, videoTimescale)
	dtsInput := nalus
	if key {
		dtsInput = append(m.parameterSets(), nalus...)
	}
	dts, err := m.dts.Extract(dtsInput, pts90)
	if err != nil && key {
		// A keyframe can start timing afresh: the stream's clock changed.
		m.dts = m.newDTSExtractor()
		dts, err = m.dts.Extract(dtsInput, pts90)
	}
	if err != nil {
		// A lost packet or a broken encoder: start again at a keyframe.
		m.waitKey = true
		m.dts = m.newDTSExtractor()
		return nil
	}
	if !m.offsetSet {
		m.offset, m.offsetSet = m.continueAt(dts, pts90), true
	}
	outDTS, outPTS := dts+m.offset, pts90+m.offset
	if m.held != nil {
		d := outDTS - m.held.dts
		if d <= 0 || d > maxFrameDuration {
			// The source's clock went back or jumped ahead: carry on the
			// timeline from the held frame, so that players see no gap.
			// Going back mid-GOP leaves frames that cannot be placed.
			if d <= 0 && !key {
				m.waitKey = true
				return nil
			}
			shift := m.continueAt(outDTS, outPTS)
			m.offset += shift
			outDTS, outPTS, d = outDTS+shift, outPTS+shift, outDTS+shift-m.held.dts
		}
		m.frameDur = min(d, maxFrameDuration)
		// The held frame is this connection's: the source is live.
		if !m.connLive {
			m.connLive = true
			m.feed.SetStatus(Status{State: stateLive})
		}
		m.flushHeld(d)
	}
	payload, err := h264.AVCC(nalus).Marshal()
	if err != nil {
		m.waitKey = true
		return nil
	}
	m.held = &heldFrame{dts: outDTS, pts: outPTS, key: key, payload: payload}
	m.lastDTS, m.hasLast = outDTS, true
	m.maxPTS = max(m.maxPTS, outPTS)
	if key {
		m.held.init = m.init
	}
	m.waitKey = false
	return nil
}

// continueAt returns the shift that puts a keyframe with these decode and
// presentation times just after what was published: decoded after the last
// frame, and shown after every frame so far (with B-frames, the newest
// frame shown is not the newest decoded).
func (m *muxer) continueAt(dts, pts int64) int64 {
	if !m.hasLast {
		return -dts
	}
	return max(m.lastDTS+m.frameDur-dts, m.maxPTS+m.frameDur-pts)
}

// flushHeld publishes the held frame with duration d, after the init it
// needs.
func (m *muxer) flushHeld(d int64) {
	h := m.held
	if h == nil {
		return
	}
	m.held = nil
	data := m.fragment(videoTrackID, uint64(h.dts), []*fmp4.Sample{{
		Duration:        uint32(d),
		PTSOffset:       int32(h.pts - h.dts),
		IsNonSyncSample: !h.key,
		Payload:         h.payload,
	}}, len(h.payload))
	if data == nil {
		m.waitKey = true
		return
	}
	if h.key && h.init != m.published {
		m.published = h.init
		m.feed.SetInit(h.init)
	}
	m.feed.Publish(Message{Data: data, Binary: true, Start: h.key})
}

// writeAudio muxes AAC access units, the first presented at pts on the
// connection's clock. Audio waits for the video: it has nothing to play
// against until the connection's first keyframe.
func (m *muxer) writeAudio(pts time.Duration, aus [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cfg := m.setup.audio
	if cfg == nil || !m.offsetSet || m.published == nil || m.published != m.init || len(aus) == 0 {
		return
	}
	rate := int64(cfg.SampleRate)
	at := toClock(pts, int(rate)) + m.offset*rate/videoTimescale
	// Counting samples keeps fragments back to back; timestamps that run
	// ahead of the count by more than a fraction of a second win (a gap).
	// Audio that goes back in time would overlap what viewers have, and a
	// player may stall on it: it is dropped, unless the source keeps it up
	// for a while, which is then a new clock.
	// A new connection's audio that overlaps what the last one sent is
	// dropped the same way.
	switch {
	case at-m.audioNext > rate/audioResync || (!m.audioSynced && at > m.audioNext):
		m.audioNext, m.audioBehind = at, 0
	case m.audioNext-at > rate/audioResync:
		if m.audioBehind++; m.audioBehind < audioBehindLimit {
			return
		}
		m.audioNext, m.audioBehind = at, 0
	default:
		m.audioBehind = 0
	}
	m.audioSynced = true
	frame := int64(aacFrameSamples)
	if cfg.FrameLengthFlag {
		frame = aacShortFrameSamples
	}
	base := m.audioNext
	m.audioNext += int64(len(aus)) * frame
	if base < 0 {
		return
	}
	samples := make([]*fmp4.Sample, len(aus))
	size := 0
	for i, au := range aus {
		samples[i] = &fmp4.Sample{Duration: uint32(frame), Payload: au}
		size += len(au)
	}
	if data := m.fragment(audioTrackID, uint64(base), samples, size); data != nil {
		m.feed.Publish(Message{Data: data, Binary: true})
	}
}

// fragment marshals one moof+mdat, or returns nil for samples the format
// cannot hold.
func (m *muxer) fragment(track int, baseTime uint64, samples []*fmp4.Sample, size int) []byte {
	m.seq++
	var buf seekablebuffer.Buffer
	buf.Grow(size + 128 + 16*len(samples))
	part := fmp4.Part{SequenceNumber: m.seq, Tracks: []*fmp4.PartTrack{{ID: track, BaseTime: baseTime, Samples: samples}}}
	if err := part.Marshal(&buf); err != nil {
		return nil
	}
	return buf.Bytes()
}

// takeParameterSets records the parameter sets and drops what a player
// does not need from the access unit: they go in the init, and delimiters
// and filler are noise. au itself is left as it was.
func (m *muxer) takeParameterSets(au [][]byte) [][]byte {
	nalus := make([][]byte, 0, len(au))
	for _, n := range au {
		paramSet, drop := m.classify(n)
		if paramSet != nil {
			*paramSet = bytes.Clone(n)
		} else if !drop {
			nalus = append(nalus, n)
		}
	}
	return nalus
}

// classify returns where a parameter set NAL unit is kept, or whether a
// NAL unit is dropped (empty, delimiter, filler).
func (m *muxer) classify(n []byte) (paramSet *[]byte, drop bool) {
	if m.setup.video == formatH265 {
		if len(n) < 2 {
			return nil, true
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return &m.setup.vps, false
		case h265.NALUType_SPS_NUT:
			return &m.setup.sps, false
		case h265.NALUType_PPS_NUT:
			return &m.setup.pps, false
		case h265.NALUType_AUD_NUT, h265.NALUType_FD_NUT:
			return nil, true
		}
		return nil, false
	}
	if len(n) == 0 {
		return nil, true
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS:
		return &m.setup.sps, false
	case h264.NALUTypePPS:
		return &m.setup.pps, false
	case h264.NALUTypeAccessUnitDelimiter, h264.NALUTypeFillerData:
		return nil, true
	}
	return nil, false
}

func (m *muxer) isKeyframe(nalus [][]byte) bool {
	if m.setup.video == formatH265 {
		return h265.IsRandomAccess(nalus)
	}
	return h264.IsRandomAccess(nalus)
}

func (m *muxer) parameterSets() [][]byte {
	if m.setup.video == formatH265 {
		return [][]byte{m.setup.vps, m.setup.sps, m.setup.pps}
	}
	return [][]byte{m.setup.sps, m.setup.pps}
}

func (m *muxer) newDTSExtractor() dtsExtractor {
	if m.setup.video == formatH265 {
		d := &h265.DTSExtractor{}
		d.Initialize()
		return d
	}
	d := &h264.DTSExtractor{}
	d.Initialize()
	return d
}

// updateInit builds the init for the current parameters unless viewers
// have it already. Called at a keyframe.
func (m *muxer) updateInit() error {
	var audioKey string
	if m.setup.audio != nil {
		audioKey = fmt.Sprintf("%+v", *m.setup.audio)
	}
	key := strings.Join([]string{m.setup.video, string(m.setup.vps), string(m.setup.sps), string(m.setup.pps), audioKey}, "|")
	if key == m.initKey && m.dts != nil {
		return nil
	}
	m.dts = m.newDTSExtractor()
	if key == m.initKey {
		return nil
	}
	init, err := buildInit(m.setup)
	if err != nil {
		return err
	}
	m.init, m.initKey = init.mediaInit, key
	if init.fps > 0 {
		m.frameDur = int64(videoTimescale / init.fps)
	}
	return nil
}

// builtInit is a mediaInit with the figures the muxer uses itself.
type builtInit struct {
	*mediaInit
	fps float64
}

// buildInit makes the init message and segment for setup.
func buildInit(setup trackSetup) (builtInit, error) {
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
	if a := setup.audio; a != nil {
		info.Audio = &audioInfo{Codec: aacCodecString(a), Format: "AAC", SampleRate: a.SampleRate, Channels: a.ChannelCount}
		if info.Audio.Channels == 0 {
			info.Audio.Channels = int(a.ChannelConfig)
		}
		codecList += "," + info.Audio.Codec
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: audioTrackID, TimeScale: uint32(a.SampleRate), Codec: &codecs.MPEG4Audio{Config: *a}})
	}
	info.MIME = `video/mp4; codecs="` + codecList + `"`
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return builtInit{}, fmt.Errorf("failed to write the init segment: %w", err)
	}
	infoJSON, _ := json.Marshal(info)
	return builtInit{mediaInit: &mediaInit{info: infoJSON, segment: buf.Bytes()}, fps: info.Video.FPS}, nil
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
