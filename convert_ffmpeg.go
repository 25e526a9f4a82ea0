package main

import (
	"errors"
	"time"
)

// The transcoder of a conversion: one ffmpeg at a time, fed what the
// source sends (as fragmented MP4, by an input muxer), read as MPEG-TS,
// killed and started again with the sources' backoff when it exits, hangs
// or writes garbage. Its viewers see reconnecting with the reason, which is
// ffmpeg's last words.

// errTooManyTranscodes refuses an output once -max-transcodes run.
var errTooManyTranscodes = &closeError{code: closeTooMany, reason: "too many transcodes: decoder runs -max-transcodes already; lift it, or play the stream where the browser takes its codecs"}

// errNewInput restarts ffmpeg without counting a failure: its input's
// tracks changed, and ffmpeg reads one init per run.
var errNewInput = errors.New("the source's tracks changed")

// startTranscoder starts ffmpeg for the plan. Without ffmpeg, the output
// cannot be made: its viewers are told why.
func (cv *conversion) startTranscoder() {
	path, err := lookFFmpeg(cv.c.hub.cfg.FFmpeg)
	if err != nil {
		what := "this stream's audio needs transcoding"
		if cv.plan.video == planTranscode {
			what = cv.planned.video.Format + " needs transcoding"
		}
		cv.fatal = &closeError{code: closeSourceFailed, reason: what + " and " + err.Error()}
		return
	}
	if cv.plan.video == planTranscode && cv.encoder == "" {
		cv.encoder = cv.c.hub.encoders.choose(cv.ctx, path)
		cv.describe()
	}
	job := transcodeJob{video: cv.plan.video == planTranscode, height: cv.c.spec.height, fps: cv.planned.video.FPS,
		audio: cv.plan.audio == planTranscode, encoder: cv.encoder}
	if cv.failures == 0 {
		// The source may be live already; the output is not, yet.
		cv.feed.SetStatus(Status{State: stateConnecting, Reason: "starting the transcode of " + cv.describeInput()})
	}
	p, err := startFFmpeg(path, ffmpegArgs(job), cv.log)
	if err != nil {
		cv.transcoderFailed(err)
		return
	}
	cv.tc, cv.lastOut = p, time.Now()
	cv.sink = &ffmpegSink{p: p, timeout: cv.cfg.Timeout}
	cv.in = newOutputMuxer(cv.sink)
	cv.in.input = true
	in := trackSetup{video: cv.planned.video.Format}
	if job.audio {
		in.audio = cv.planned.audio
		if cv.flac != nil {
			in.audio = cv.flac.setup()
		}
	}
	cv.in.reset(in)
}

// describeInput names what the transcode converts, for its viewers.
func (cv *conversion) describeInput() string {
	if cv.plan.video == planTranscode {
		return cv.planned.video.Format + " to H.264"
	}
	return cv.planned.audio.format + " to AAC"
}

// stopTranscoder kills ffmpeg, if it runs, and waits until it is gone.
func (cv *conversion) stopTranscoder() {
	if cv.tc != nil {
		cv.tc.stop()
		cv.tc, cv.in, cv.sink = nil, nil, nil
	}
}

// releaseSlot gives back the conversion's -max-transcodes slot.
func (cv *conversion) releaseSlot() {
	if cv.slot {
		cv.c.hub.releaseTranscode()
		cv.slot = false
	}
}

// transcoded delivers ffmpeg's output; nil (never ready) without ffmpeg.
func (cv *conversion) transcoded() <-chan ffmpegUnit {
	if cv.tc == nil {
		return nil
	}
	return cv.tc.units
}

// transcoderEnded is closed when ffmpeg has ended; nil without ffmpeg.
func (cv *conversion) transcoderEnded() <-chan struct{} {
	if cv.tc == nil {
		return nil
	}
	return cv.tc.ended
}

// transcoderFailed stops ffmpeg and starts it again after the backoff,
// telling viewers why. A hardware encoder that fails falls back to
// libx264 for this output, at once.
func (cv *conversion) transcoderFailed(err error) {
	cv.stopTranscoder()
	if errors.Is(err, errNewInput) {
		cv.startTranscoder()
		return
	}
	if cv.encoder != "" && cv.encoder != encoderSoftware && cv.plan.video == planTranscode {
		cv.log.Warn("hardware encoder failed; falling back to "+encoderSoftware, "encoder", cv.encoder, "err", err)
		cv.encoder = encoderSoftware
		cv.describe()
		cv.startTranscoder()
		return
	}
	cv.failures++
	delay := retryDelay(cv.cfg, cv.failures)
	reason := "the transcoder failed: " + err.Error()
	cv.log.Warn("transcoder failed", "err", err, "attempt", cv.failures)
	cv.feed.SetStatus(Status{State: stateReconnecting, Reason: reason, Attempt: cv.failures, RetryInMS: delay.Milliseconds()})
	cv.outDue = true
	cv.retryC = time.After(delay)
}

// checkTranscoder kills an ffmpeg that has written nothing for the source
// timeout although it was fed: it has hung.
func (cv *conversion) checkTranscoder() {
	if cv.tc != nil && time.Since(cv.lastOut) > cv.cfg.Timeout && cv.sink.fed.After(cv.lastOut) {
		cv.transcoderFailed(errors.New("ffmpeg wrote nothing for the source timeout"))
	}
}

// checkSink acts on a failed write to ffmpeg. An ffmpeg that stopped
// reading has usually exited, and its own words say more than a broken
// pipe: it is given a moment to end.
func (cv *conversion) checkSink() {
	if cv.sink == nil || cv.sink.err == nil {
		return
	}
	err := cv.sink.err
	if !errors.Is(err, errNewInput) {
		select {
		case <-cv.tc.ended:
			err = cv.tc.err
		case <-time.After(exitGrace):
		}
	}
	cv.transcoderFailed(err)
}

// exitGrace is how long an ffmpeg that stopped reading may take to exit
// by itself.
const exitGrace = 500 * time.Millisecond

// handleTranscoded muxes what ffmpeg made into the output.
func (cv *conversion) handleTranscoded(u ffmpegUnit) {
	cv.lastOut = time.Now()
	if u.setup {
		// A new ffmpeg: its tracks, and a timeline that the output
		// carries on from where it was.
		var aac *audioSetup
		if u.audio != nil {
			aac = aacSetup(*u.audio)
		}
		video := formatH264
		if cv.plan.video == planPass {
			video = cv.planned.video.Format
		}
		cv.resetOut(trackSetup{video: video, audio: cv.outAudio(aac)})
		return
	}
	cv.failures = 0
	if cv.outDue {
		return // until ffmpeg starts again
	}
	if u.video {
		cv.out.writeVideo(fromClock(u.pts, videoTimescale), u.au)
	} else if cv.plan.audio == planTranscode {
		cv.out.writeAudio(fromClock(u.pts, videoTimescale), u.au)
	}
}

// ffmpegSink takes an input muxer's output to ffmpeg's stdin: the init
// segment once, then fragments. A write that fails is kept in err.
type ffmpegSink struct {
	p       *ffmpegProcess
	timeout time.Duration
	inited  bool
	err     error
	fed     time.Time // when ffmpeg last took a fragment
}

func (s *ffmpegSink) Publish(m Message) {
	if s.err == nil && s.inited {
		s.err = s.p.write(m.Data, s.timeout)
		s.fed = time.Now()
	}
}

func (s *ffmpegSink) SetInit(init *mediaInit) {
	if s.err != nil {
		return
	}
	if s.inited {
		s.err = errNewInput
		return
	}
	s.inited = true
	s.err = s.p.write(init.segment, s.timeout)
}

func (s *ffmpegSink) SetStatus(Status)   {}
func (s *ffmpegSink) tapping() bool      { return false }
func (s *ffmpegSink) tapVideo(videoUnit) {}
func (s *ffmpegSink) tapAudio(audioUnit) {}
