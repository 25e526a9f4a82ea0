package main

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Codec families a page lists in codecs=: what its browser plays in Media
// Source Extensions, as MediaSource.isTypeSupported told it.
const (
	familyH264 = "avc1"
	familyH265 = "hvc1"
	familyAAC  = "mp4a"
	familyFLAC = "flac"
	familyOpus = "opus"
)

// knownFamilies are the families codecs= may name, in the order used in
// output keys.
var knownFamilies = []string{familyH264, familyH265, familyAAC, familyFLAC, familyOpus}

// maxOutputHeight bounds height=: above it a page asks for no scaling.
const maxOutputHeight = 4320

// outputSpec is what a viewer's browser can play, from the codecs and
// height parameters of /live. A viewer without codecs gets the source as it
// is (passthrough), whatever it holds.
type outputSpec struct {
	families []string // in knownFamilies order, no repeats
	height   int      // 0: any height
}

// parseOutputSpec reads codecs and height; given reports whether the
// viewer asked for anything.
func parseOutputSpec(q url.Values) (spec outputSpec, given bool, err error) {
	if q.Has("codecs") {
		for _, f := range strings.Split(q.Get("codecs"), ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			if !slices.Contains(knownFamilies, f) {
				return spec, false, badSource(closeBadRequest, fmt.Sprintf("codecs lists %q; decoder knows %s", f, strings.Join(knownFamilies, ", ")))
			}
			if !slices.Contains(spec.families, f) {
				spec.families = append(spec.families, f)
			}
		}
		slices.SortFunc(spec.families, func(a, b string) int {
			return slices.Index(knownFamilies, a) - slices.Index(knownFamilies, b)
		})
		if !spec.allows(familyH264) && !spec.allows(familyH265) {
			return spec, false, badSource(closeBadRequest, "codecs must list a video family the page plays: avc1 (H.264, which decoder can transcode to) or hvc1")
		}
		given = true
	}
	if v := q.Get("height"); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 2 || h > maxOutputHeight {
			return spec, false, badSource(closeBadRequest, fmt.Sprintf("height must be a number of pixels from 2 to %d, got %q", maxOutputHeight, v))
		}
		spec.height = h &^ 1 // encoders want even sizes
		given = true
	}
	if given && len(spec.families) == 0 {
		// height alone: whatever every browser plays.
		spec.families = []string{familyH264, familyAAC}
	}
	return spec, given, nil
}

func (o outputSpec) allows(family string) bool { return slices.Contains(o.families, family) }

// key names the output for sharing and for /streams.
func (o outputSpec) key() string {
	k := "codecs=" + strings.Join(o.families, ",")
	if o.height > 0 {
		k += " height=" + strconv.Itoa(o.height)
	}
	return k
}

// Ways a converter turns a track into what viewers play.
const (
	planPass      = "pass"      // as the source sends it
	planTranscode = "transcode" // through ffmpeg: video to H.264, audio to AAC
	planFLAC      = "flac"      // audio to FLAC, in decoder itself
	planDrop      = "drop"      // audio no viewer of this output can play
)

// outputPlan is what an output does with each track of its source.
type outputPlan struct {
	video string // planPass or planTranscode
	audio string // "" without audio, else a plan constant
	// dropWhy says why audio is dropped, for the viewers' status.
	dropWhy string
}

// planOutput decides, for a source whose tracks are video and audio (nil
// without), what an output for spec does with them.
func planOutput(video videoInfo, audio *audioSetup, spec outputSpec) outputPlan {
	p := outputPlan{video: planPass}
	fam := familyH264
	if video.Format == formatH265 {
		fam = familyH265
	}
	if !spec.allows(fam) || (spec.height > 0 && video.Height > spec.height) {
		p.video = planTranscode
	}
	if audio == nil {
		return p
	}
	switch {
	case audio.muxable() && spec.allows(audio.family()):
		p.audio = planPass
	case (audio.format == audioALaw || audio.format == audioMuLaw || audio.format == audioL16) && spec.allows(familyFLAC):
		p.audio = planFLAC
	case spec.allows(familyAAC) && audio.format != audioAAC:
		p.audio = planTranscode
	default:
		p.audio = planDrop
		p.dropWhy = fmt.Sprintf("playing without sound: the camera sends %s, which this browser cannot play and decoder cannot turn into %s", audio.format, strings.Join(spec.families, " or "))
	}
	return p
}

// needsConverter reports whether viewers need an output of their own, or
// can have the source as decoder muxes it for everyone: its video, and its
// audio if that is AAC.
func (p outputPlan) needsConverter(audio *audioSetup) bool {
	switch {
	case p.video != planPass:
		return true
	case p.audio == planFLAC || p.audio == planTranscode:
		return true
	}
	return p.audio == planPass && audio.format != audioAAC
}

// usesFFmpeg reports whether the output needs a transcoder.
func (p outputPlan) usesFFmpeg() bool {
	return p.video == planTranscode || p.audio == planTranscode
}
