package main

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Codec strings are what MediaSource.isTypeSupported and the init segment
// must agree on. They are built from the stream's own parameter sets, since
// a fixed string either lies about the profile and level or is refused.

// h264CodecString is "avc1." and the profile, constraint flags and level
// bytes of the SPS (RFC 6381 §3.3), e.g. avc1.4d401f for Main at level 3.1.
func h264CodecString(sps []byte) (string, error) {
	if len(sps) < 4 {
		return "", errors.New("H.264 SPS too short")
	}
	return fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3]), nil
}

// h265CodecString is "hvc1." and the SPS's profile_tier_level as ISO/IEC
// 14496-15 Annex E spells it: profile space and profile, compatibility
// flags in reverse bit order, tier and level, then the constraint bytes
// without trailing zeros, e.g. hvc1.1.6.L93.B0.
func h265CodecString(sps []byte) (string, error) {
	// Two bytes of NAL header, one of ids and sub-layer count, then 12
	// bytes of general profile_tier_level.
	raw := h264.EmulationPreventionRemove(sps)
	if len(raw) < 15 {
		return "", errors.New("H.265 SPS too short")
	}
	ptl := raw[3:15]
	var b strings.Builder
	b.WriteString("hvc1.")
	if space := ptl[0] >> 6; space > 0 {
		b.WriteByte('A' + space - 1)
	}
	b.WriteString(strconv.Itoa(int(ptl[0] & 0x1f)))
	compat := uint32(ptl[1])<<24 | uint32(ptl[2])<<16 | uint32(ptl[3])<<8 | uint32(ptl[4])
	fmt.Fprintf(&b, ".%X.", bits.Reverse32(compat))
	if ptl[0]&0x20 != 0 {
		b.WriteByte('H')
	} else {
		b.WriteByte('L')
	}
	b.WriteString(strconv.Itoa(int(ptl[11])))
	constraints := ptl[5:11]
	n := len(constraints)
	for n > 0 && constraints[n-1] == 0 {
		n--
	}
	for _, c := range constraints[:n] {
		fmt.Fprintf(&b, ".%X", c)
	}
	return b.String(), nil
}

// aacCodecString is "mp4a.40." and the audio object type, e.g. mp4a.40.2
// for AAC-LC.
func aacCodecString(cfg *mpeg4audio.AudioSpecificConfig) string {
	return "mp4a.40." + strconv.Itoa(int(cfg.Type))
}
