package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// The parameter sets of a video stream: taken from the stream, checked,
// and turned into the init viewers need.

// dtsExtractor times frames in decode order; H.264 and H.265 each have one.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// takeParameterSets records the parameter sets and drops what a player
// does not need from the access unit: they go in the init, and delimiters
// and filler are noise. A new SPS that does not parse is not taken: a
// stray corrupt one must not stop a stream whose next one is fine. au
// itself is left as it was.
func (m *muxer) takeParameterSets(au [][]byte) [][]byte {
	nalus := make([][]byte, 0, len(au))
	for _, n := range au {
		paramSet, drop := m.classify(n)
		switch {
		case paramSet == nil:
			if !drop {
				nalus = append(nalus, n)
			}
		case bytes.Equal(*paramSet, n):
		case paramSet == &m.setup.sps:
			sps := bytes.Clone(n)
			if err := checkParameterSet(m.setup.video, &sps); err != nil {
				m.problem = permanent(err)
				continue
			}
			m.setup.sps = sps
		default:
			*paramSet = bytes.Clone(n)
		}
	}
	return nalus
}

// checkParameterSet checks an SPS of format (H.264 or H.265) before the
// muxer relies on it; an absent one passes.
func checkParameterSet(format string, sps *[]byte) error {
	if len(*sps) == 0 {
		return nil
	}
	var err error
	if format == formatH265 {
		var s h265.SPS
		err = s.Unmarshal(*sps)
	} else {
		var s h264.SPS
		err = s.Unmarshal(*sps)
	}
	if err != nil {
		return fmt.Errorf("the camera's %s SPS is not valid (%v)", format, err)
	}
	return nil
}

// parameterSetNames names the parameter sets of the video format.
func (m *muxer) parameterSetNames() string {
	if m.setup.video == formatH265 {
		return "VPS, SPS and PPS"
	}
	return "SPS and PPS"
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
	key := strings.Join([]string{m.setup.video, string(m.setup.vps), string(m.setup.sps), string(m.setup.pps), m.setup.audio.key(),
		fmt.Sprintf("%p", m.setup.transcode), m.setup.note}, "|")
	if key == m.initKey && m.dts != nil {
		return nil
	}
	m.dts = m.newDTSExtractor()
	if key == m.initKey {
		return nil
	}
	init, err := buildInit(m.setup, m.carries)
	if err != nil {
		return err
	}
	m.init, m.initKey = init.mediaInit, key
	if init.fps > 0 {
		m.frameDur = int64(videoTimescale / init.fps)
	}
	return nil
}
