package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// converter is the producer of an output: a source made into what one kind
// of browser plays. The source itself is pulled once, by its own producer,
// whatever the number of outputs; a converter reads it through a tap and
// writes a stream of its own, which viewers share like any source: video
// passed on or transcoded to H.264 (ffmpeg), audio passed on, made FLAC in
// decoder, transcoded to AAC (ffmpeg) or dropped, as planOutput decides
// for the source's tracks at each of its keyframes.
type converter struct {
	hub  *Hub
	base source
	spec outputSpec
	// info says what is converted, from what, to what, with which
	// encoder, for /streams.
	info atomic.Pointer[transcodeInfo]
}

// transcodeInfo is what an output converts; it goes in its init message
// and in /streams.
type transcodeInfo struct {
	Video *trackConversion `json:"video,omitempty"`
	Audio *trackConversion `json:"audio,omitempty"`
}

// trackConversion is one track's conversion.
type trackConversion struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Encoder string `json:"encoder"`
}

// converterSource is the output of base for spec, shared by the viewers
// that ask for the same.
func converterSource(h *Hub, base source, spec outputSpec) source {
	name := " → " + spec.key()
	return source{key: base.key + name, display: base.display + name, producer: &converter{hub: h, base: base, spec: spec}}
}

func (c *converter) Run(ctx context.Context, feed *Feed) error {
	sub, err := c.hub.Subscribe(c.base, subscribeOptions{internal: true})
	if err != nil {
		return err
	}
	defer sub.Close()
	t := sub.s.feed.tap()
	defer sub.s.feed.taps.remove(t)
	cv := &conversion{c: c, ctx: ctx, feed: feed, log: feed.log, cfg: c.hub.cfg.Sources, out: newOutputMuxer(feed)}
	defer cv.stopTranscoder()
	defer cv.releaseSlot()
	check := time.NewTicker(cv.cfg.Timeout / 4)
	defer check.Stop()
	for cv.fatal == nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-t.units:
			if !ok {
				return sourceEnded(t.end)
			}
			if t.lost.Swap(false) {
				cv.lost()
			}
			cv.handle(u)
		case u := <-cv.transcoded():
			cv.handleTranscoded(u)
		case <-cv.transcoderEnded():
			cv.transcoderFailed(cv.tc.err)
		case <-cv.retryC:
			cv.retryC = nil
			cv.startTranscoder()
		case <-check.C:
			cv.checkTranscoder()
		}
	}
	return cv.fatal
}

// sourceEnded is how an output ends when its source has: the same way.
func sourceEnded(end error) error {
	var ce *closeError
	if errors.As(end, &ce) {
		return ce
	}
	return errSourceStopped
}

// conversion is one run of a converter; only its goroutine uses it.
type conversion struct {
	c    *converter
	ctx  context.Context
	feed *Feed
	log  *slog.Logger
	cfg  SourceConfig
	// fatal ends the run: an output that cannot be made.
	fatal error

	plan    outputPlan
	planned *mediaInit // the source init the plan is for
	out     *muxer
	outSet  trackSetup // what out was last reset with
	outDue  bool       // out must be reset before its next frame
	flac    *flacStream

	// The transcoder, while the plan needs one.
	tc       *ffmpegProcess
	in       *muxer // ffmpeg's input
	sink     *ffmpegSink
	slot     bool // holds one of -max-transcodes
	encoder  string
	failures int
	retryC   <-chan time.Time
	lastOut  time.Time // when ffmpeg last wrote a frame
}

// handle takes one unit from the source.
func (cv *conversion) handle(u tapUnit) {
	switch {
	case u.status != nil:
		// Outputs say live once their own frames flow.
		if u.status.State != stateLive {
			cv.feed.SetStatus(*u.status)
			cv.outDue = true
		}
	case u.video != nil:
		cv.handleVideo(u.video)
	case u.audio != nil:
		cv.handleAudio(u.audio)
	}
}

// handleVideo passes a frame on or feeds it to the transcoder, which
// copies it if only the audio needs ffmpeg, so that both stay in step; a
// keyframe with new tracks makes a new plan first.
func (cv *conversion) handleVideo(u *videoUnit) {
	if u.init != nil && u.init != cv.planned {
		cv.replan(u.init)
	}
	if cv.planned == nil {
		return // nothing can be done before the first keyframe
	}
	if !cv.plan.usesFFmpeg() {
		if cv.outDue {
			cv.resetOut(trackSetup{video: u.format, audio: cv.outAudio(nil)})
		}
		cv.out.writeVideo(fromClock(u.pts, videoTimescale), u.au)
		return
	}
	if cv.in != nil {
		cv.in.writeVideo(fromClock(u.pts, videoTimescale), u.au)
		cv.checkSink()
	}
}

// handleAudio passes audio on, converts it, or feeds it to the
// transcoder, as planned.
func (cv *conversion) handleAudio(u *audioUnit) {
	if cv.planned == nil {
		return
	}
	pts := fromClock(u.pts, u.setup.rate)
	switch cv.plan.audio {
	case planPass:
		if !cv.outDue {
			cv.out.writeAudioFrames(pts, u.frames)
		}
	case planFLAC:
		if frames, at := cv.flac.encode(u); len(frames) > 0 && !cv.outDue {
			cv.out.writeAudioFrames(fromClock(at, u.setup.rate), frames)
		}
	case planTranscode:
		if cv.in == nil {
			return
		}
		if cv.flac != nil {
			frames, at := cv.flac.encode(u)
			cv.in.writeAudioFrames(fromClock(at, u.setup.rate), frames)
		} else {
			cv.in.writeAudioFrames(pts, u.frames)
		}
		cv.checkSink()
	}
}

// replan decides what to do with the source's tracks, described by init,
// and sets up for it.
func (cv *conversion) replan(init *mediaInit) {
	old := cv.plan
	cv.planned, cv.plan = init, planOutput(init.video, init.audio, cv.c.spec)
	cv.flac = nil
	if a := init.audio; a != nil && (cv.plan.audio == planFLAC || (cv.plan.audio == planTranscode && a.format != audioOpus)) {
		cv.flac = newFLACStream(a)
	}
	cv.outDue = true
	if cv.plan.dropWhy != "" && cv.plan.dropWhy != old.dropWhy {
		cv.log.Info(cv.plan.dropWhy)
	}
	cv.describe()
	if !cv.plan.usesFFmpeg() {
		cv.stopTranscoder()
		cv.releaseSlot()
		return
	}
	if !cv.slot {
		if !cv.c.hub.acquireTranscode() {
			cv.fatal = errTooManyTranscodes
			return
		}
		cv.slot = true
	}
	cv.stopTranscoder()
	cv.startTranscoder()
}

// outAudio is the audio track out carries; ffmpeg's AAC when it makes it.
func (cv *conversion) outAudio(transcoded *audioSetup) *audioSetup {
	switch cv.plan.audio {
	case planPass:
		return cv.planned.audio
	case planFLAC:
		return cv.flac.setup()
	case planTranscode:
		return transcoded
	}
	return nil
}

// resetOut starts the output afresh with setup: at a new plan, after the
// source reconnected, or when ffmpeg restarted. It says live again once
// its next keyframe goes out, and its timeline carries on.
func (cv *conversion) resetOut(setup trackSetup) {
	cv.out.end()
	setup.transcode = cv.c.info.Load()
	setup.note = cv.plan.dropWhy
	cv.out.reset(setup)
	cv.outSet, cv.outDue = setup, false
}

// lost tells both muxers that the tap lost units: they wait for a
// keyframe.
func (cv *conversion) lost() {
	cv.out.lost()
	if cv.in != nil {
		cv.in.lost()
	}
	if cv.flac != nil {
		cv.flac.restart()
	}
}

// describe records what the plan converts, for init messages and
// /streams.
func (cv *conversion) describe() {
	init, info := cv.planned, &transcodeInfo{}
	if cv.plan.video == planTranscode {
		to := "H.264"
		if h := cv.c.spec.height; h > 0 && init.video.Height > h {
			to += fmt.Sprintf(" at most %d high", h)
		}
		info.Video = &trackConversion{From: fmt.Sprintf("%s %dx%d", init.video.Format, init.video.Width, init.video.Height), To: to, Encoder: cv.encoder}
	}
	switch cv.plan.audio {
	case planFLAC:
		info.Audio = &trackConversion{From: init.audio.format, To: audioFLAC, Encoder: "decoder"}
	case planTranscode:
		info.Audio = &trackConversion{From: init.audio.format, To: audioAAC, Encoder: "ffmpeg aac"}
	}
	if info.Video == nil && info.Audio == nil {
		info = nil
	}
	cv.c.info.Store(info)
}
