package main

import (
	"bytes"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// The muxer's audio: access units and frames of the source's audio track
// placed on the output timeline, against the video's clock.

// writeAudio muxes access units of the source's audio track, the first
// presented at pts on the connection's clock.
func (m *muxer) writeAudio(pts time.Duration, aus [][]byte) {
	a := m.setup.audio
	if a == nil {
		return
	}
	frames := make([]audioFrame, len(aus))
	for i, au := range aus {
		frames[i] = audioFrame{data: au, samples: a.samplesOf(au)}
	}
	m.writeAudioFrames(pts, frames)
}

// writeAudioFrames muxes audio frames, the first presented at pts on the
// connection's clock, if the muxer carries the track, and hands them to
// the taps. Audio waits for the video: it has nothing to play against
// until the connection's first keyframe.
func (m *muxer) writeAudioFrames(pts time.Duration, frames []audioFrame) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.setup.audio
	if a == nil || !m.offsetSet || m.published == nil || m.published != m.init || len(frames) == 0 {
		return
	}
	base, ok := m.audioAt(toClock(pts, a.rate) + m.offset*int64(a.rate)/videoTimescale)
	if !ok {
		return
	}
	total := 0
	for _, f := range frames {
		total += f.samples
	}
	m.audioNext += int64(total)
	if base < 0 {
		return
	}
	if m.feed.tapping() {
		m.feed.tapAudio(audioUnit{setup: a, pts: base, frames: cloneFrames(frames)})
	}
	if !m.carries(a) {
		return
	}
	samples := make([]*fmp4.Sample, len(frames))
	for i, f := range frames {
		samples[i] = &fmp4.Sample{Duration: uint32(f.samples), Payload: f.data}
	}
	m.feed.Publish(Message{Data: m.fragment(audioTrackID, uint64(base), samples), Binary: true})
}

// audioAt places audio whose first sample is at on the output timeline and
// returns where it goes, or false to drop it. Counting samples keeps
// fragments back to back; timestamps that run ahead of the count by more
// than a fraction of a second win (a gap). Audio that goes back in time
// would overlap what viewers have, and a player may stall on it: it is
// dropped, unless the source keeps it up for a while, which is then a new
// clock. A new connection's audio that overlaps what the last one sent is
// dropped the same way.
func (m *muxer) audioAt(at int64) (int64, bool) {
	rate := int64(m.setup.audio.rate)
	switch {
	case at-m.audioNext > rate/audioResync || (!m.audioSynced && at > m.audioNext):
		m.audioNext, m.audioBehind = at, 0
	case m.audioNext-at > rate/audioResync:
		if m.audioBehind++; m.audioBehind < audioBehindLimit {
			return 0, false
		}
		m.audioNext, m.audioBehind = at, 0
	default:
		m.audioBehind = 0
	}
	m.audioSynced = true
	return m.audioNext, true
}

// cloneFrames copies frames for a tap, which keeps them past the call.
func cloneFrames(frames []audioFrame) []audioFrame {
	out := make([]audioFrame, len(frames))
	for i, f := range frames {
		out[i] = audioFrame{data: bytes.Clone(f.data), samples: f.samples}
	}
	return out
}
