package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
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
	audio         *audioSetup // nil without audio
	// transcode and note go in the init message: what an output converts,
	// and anything its viewers should know (audio it drops, and why).
	transcode *transcodeInfo
	note      string
}

// muxSink is where a muxer's output goes: a source's Feed, or the input
// of a transcoder. Its methods must not block.
type muxSink interface {
	Publish(Message)
	SetInit(*mediaInit)
	SetStatus(Status)
	// tapping reports whether anyone takes the frames themselves, as
	// tapVideo and tapAudio hand them on.
	tapping() bool
	tapVideo(videoUnit)
	tapAudio(audioUnit)
}

// videoUnit is a video frame on a source's output timeline, as a tap gets
// it. Its slices are its own.
type videoUnit struct {
	format   string
	dts, pts int64 // 90 kHz
	key      bool
	// au is the frame's NAL units; a keyframe's begin with its parameter
	// sets, so that a decoder can start there.
	au [][]byte
	// init describes the source's tracks; set on keyframes.
	init *mediaInit
}

// audioUnit is audio on a source's output timeline, as a tap gets it,
// whether or not its muxer carries it. Its slices are its own.
type audioUnit struct {
	setup  *audioSetup // the source's track
	pts    int64       // of the first sample, in setup.rate ticks
	frames []audioFrame
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
	feed muxSink
	// carries says which audio tracks go into the init and fragments;
	// the others reach taps only.
	carries func(*audioSetup) bool
	// keepTimeline starts the timeline where what is written is, for what
	// is on a source's output timeline already: an output then has its
	// source's timeline, until a restart of ffmpeg leaves a gap that it
	// closes like any other.
	keepTimeline bool
	// input marks a muxer that feeds a transcoder rather than viewers: it
	// publishes each frame at once, with a guessed duration, rather than
	// hold it for its exact one.
	input bool

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
	// lastOut is when this connection began or last published a video
	// frame; problem is why frames were dropped since, if there was
	// anything wrong with them. A source that publishes nothing for long
	// says why (see unplayable) instead of connecting forever.
	lastOut time.Time
	problem error
	// frames counts the video frames muxed, for a source that must notice
	// when a whole pass of a file had none to play.
	frames uint64
}

// heldFrame is a muxed frame waiting for its duration.
type heldFrame struct {
	dts, pts int64 // on the output timeline
	key      bool
	payload  []byte
	init     *mediaInit // the init a keyframe needs
}

// newMuxer muxes a source for viewers who asked for nothing in particular:
// its video, and its audio if that is AAC, which every browser plays.
func newMuxer(feed muxSink) *muxer {
	return &muxer{feed: feed, carries: isAAC, frameDur: videoTimescale / 25}
}

// newOutputMuxer muxes frames of a source's output timeline, with every
// audio track browsers can play: for outputs, whose audio was chosen for
// the viewers' browsers.
func newOutputMuxer(feed muxSink) *muxer {
	m := newMuxer(feed)
	m.carries = (*audioSetup).muxable
	m.keepTimeline = true
	return m
}

func isAAC(a *audioSetup) bool { return a.format == audioAAC }

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
	m.lastOut, m.problem = time.Now(), nil
	if err := checkParameterSet(setup.video, &setup.sps); err != nil {
		m.setup.sps, m.problem = nil, permanent(err)
	}
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

// dropped tells the muxer that the source had to drop a frame for problem
// (one too large, say): it waits for a keyframe, and says why if nothing
// plays.
func (m *muxer) dropped(problem error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waitKey = true
	if m.problem == nil {
		m.problem = problem // the first says the most; what follows is its wake
	}
}

// noKeyframeTimeouts is how many source timeouts a connection may go
// without a keyframe when nothing else is wrong: some cameras send one
// every ten seconds or more.
const noKeyframeTimeouts = 3

// unplayable reports why the current connection has published no video
// for longer than timeout, or nil while it plays, or is within its time.
func (m *muxer) unplayable(timeout time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	quiet := time.Since(m.lastOut)
	switch {
	case quiet <= timeout:
		return nil
	case m.problem != nil:
		return m.problem
	case quiet > noKeyframeTimeouts*timeout:
		return fmt.Errorf("the camera sent no keyframe in %v", quiet.Round(time.Second))
	}
	return nil
}

// writeVideo muxes one access unit with its presentation time on the
// connection's clock. Frames before the connection's first keyframe, and
// those that cannot be timed or are unusable, are dropped; what made them
// unusable is kept for unplayable.
func (m *muxer) writeVideo(pts time.Duration, au [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	nalus := m.takeParameterSets(au)
	if len(nalus) == 0 {
		return
	}
	key := m.isKeyframe(nalus)
	if (m.waitKey && !key) || (key && !m.readyForKeyframe()) {
		return
	}
	pts90 := toClock(pts, videoTimescale)
	dts, ok := m.decodeTime(nalus, key, pts90)
	if !ok {
		return
	}
	if !m.offsetSet {
		m.offset, m.offsetSet = m.continueAt(dts, pts90), true
		if m.keepTimeline && !m.hasLast {
			m.offset = 0
		}
	}
	m.place(dts+m.offset, pts90+m.offset, key, nalus)
}

// readyForKeyframe reports whether a keyframe can be published: its
// parameter sets are known and make an init. If not, it keeps why and the
// muxer waits for the next keyframe.
func (m *muxer) readyForKeyframe() bool {
	if len(m.setup.sps) == 0 || len(m.setup.pps) == 0 || (m.setup.video == formatH265 && len(m.setup.vps) == 0) {
		if m.problem == nil {
			m.problem = fmt.Errorf("the camera sent no parameter sets (%s) with its keyframes, neither in its SDP nor in the stream", m.parameterSetNames())
		}
		m.waitKey = true
		return false
	}
	if err := m.updateInit(); err != nil {
		m.problem = permanent(err)
		m.waitKey = true
		return false
	}
	return true
}

// decodeTime times a frame in decode order, or reports that it cannot be
// timed (then the muxer waits for a keyframe).
func (m *muxer) decodeTime(nalus [][]byte, key bool, pts90 int64) (int64, bool) {
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
		return 0, false
	}
	return dts, true
}

// place puts a timed frame on the output timeline: the held frame goes out
// with its exact duration, and this one is held.
func (m *muxer) place(outDTS, outPTS int64, key bool, nalus [][]byte) {
	if m.held != nil {
		d := outDTS - m.held.dts
		if d <= 0 || d > maxFrameDuration {
			// The source's clock went back or jumped ahead: carry on the
			// timeline from the held frame, so that players see no gap.
			// Going back mid-GOP leaves frames that cannot be placed.
			if d <= 0 && !key {
				m.waitKey = true
				return
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
		return
	}
	if m.feed.tapping() {
		m.tapVideo(outDTS, outPTS, key, payload)
	}

	m.held = &heldFrame{dts: outDTS, pts: outPTS, key: key, payload: payload}
	m.lastDTS, m.hasLast = outDTS, true
	m.maxPTS = max(m.maxPTS, outPTS)
	if key {
		m.held.init = m.init
	}
	m.waitKey = false
	m.frames++
	if m.input {
		m.flushHeld(m.frameDur)
	}
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
	}})
	if h.key && h.init != m.published {
		m.published = h.init
		m.feed.SetInit(h.init)
	}
	m.feed.Publish(Message{Data: data, Binary: true, Start: h.key})
	m.lastOut, m.problem = time.Now(), nil
}

// framesMuxed is the number of video frames muxed so far.
func (m *muxer) framesMuxed() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.frames
}

// tapVideo hands a placed frame to the taps; payload is the frame's own
// AVCC copy, which the muxer does not change.
func (m *muxer) tapVideo(dts, pts int64, key bool, payload []byte) {
	var au h264.AVCC
	if au.Unmarshal(payload) != nil {
		return
	}
	u := videoUnit{format: m.setup.video, dts: dts, pts: pts, key: key, au: au}
	if key {
		u.au, u.init = append(m.parameterSets(), au...), m.init
	}
	m.feed.tapVideo(u)
}

// fragment marshals one moof+mdat of samples of one track.
func (m *muxer) fragment(track int, baseTime uint64, samples []*fmp4.Sample) []byte {
	m.seq++
	return appendFragment(make([]byte, 0, fragmentSize(samples)), m.seq, track, baseTime, samples)
}
