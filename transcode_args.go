package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// encoderAuto picks, at first use, the first H.264 encoder of this
// machine's candidates that works, hardware first.
const encoderAuto = "auto"

// encoderSoftware is the encoder every ffmpeg build has, and the one a
// failing hardware encoder falls back to.
const encoderSoftware = "libx264"

// videoEncoders are the H.264 encoders decoder knows how to drive, with
// the arguments each needs for a low-latency live stream without B-frames.
var videoEncoders = map[string][]string{
	"libx264":           {"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0"},
	"h264_nvenc":        {"-c:v", "h264_nvenc", "-preset", "p1", "-tune", "ull", "-bf", "0", "-zerolatency", "1"},
	"h264_qsv":          {"-c:v", "h264_qsv", "-preset", "veryfast", "-low_power", "1", "-bf", "0"},
	"h264_vaapi":        {"-vaapi_device", "/dev/dri/renderD128", "-c:v", "h264_vaapi", "-bf", "0"},
	"h264_videotoolbox": {"-c:v", "h264_videotoolbox", "-realtime", "1", "-bf", "0"},
	"h264_mf":           {"-c:v", "h264_mf", "-scenario", "display_remoting", "-bf", "0"},
	"h264_v4l2m2m":      {"-c:v", "h264_v4l2m2m", "-bf", "0"},
}

// encoderCandidates are the hardware encoders worth trying on this
// platform, in order of preference; libx264 comes last everywhere.
func encoderCandidates() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"h264_videotoolbox"}
	case "windows":
		return []string{"h264_nvenc", "h264_qsv", "h264_mf"}
	}
	return []string{"h264_nvenc", "h264_qsv", "h264_vaapi", "h264_v4l2m2m"}
}

// hardwareFilter is the end of the filter chain an encoder needs: VAAPI
// takes frames uploaded to the GPU.
func hardwareFilter(encoder string) string {
	if encoder == "h264_vaapi" {
		return ",format=nv12,hwupload"
	}
	return ""
}

// encoderChooser decides once, at first use, which H.264 encoder
// transcodes use: the configured one, or with auto the first candidate
// whose one-frame trial succeeds, else libx264. Safe for concurrent use.
type encoderChooser struct {
	configured string
	log        *slog.Logger

	mu     sync.Mutex
	chosen string
}

// choose returns the encoder, trying candidates with ffmpeg at path the
// first time.
func (c *encoderChooser) choose(ctx context.Context, path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chosen != "" {
		return c.chosen
	}
	if c.configured != encoderAuto && c.configured != "" {
		c.chosen = c.configured
		return c.chosen
	}
	c.chosen = encoderSoftware
	for _, enc := range encoderCandidates() {
		if err := trialEncode(ctx, path, enc); err == nil {
			c.chosen = enc
			break
		} else {
			c.log.Debug("encoder unusable here", "encoder", enc, "err", err)
		}
	}
	c.log.Info("transcodes encode H.264 with "+c.chosen, "encoder", c.chosen)
	return c.chosen
}

// trialEncode encodes one frame with enc: the only sure test that a
// hardware encoder works on this machine, whatever ffmpeg lists.
func trialEncode(ctx context.Context, path, enc string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi", "-i", "color=size=256x144:rate=25:duration=0.04"}
	if f := hardwareFilter(enc); f != "" {
		args = append(args, "-vf", f[1:])
	}
	args = append(args, videoEncoders[enc]...)
	args = append(args, "-frames:v", "1", "-f", "null", "-")
	_, err := runFFmpegOnce(ctx, path, args, nil)
	return err
}

// transcodeJob is what one ffmpeg run does: which tracks go through it and
// how.
type transcodeJob struct {
	video   bool    // transcode the video (else copy it)
	height  int     // scale to at most this height, if video
	fps     float64 // the source's frame rate, for the keyframe interval
	audio   bool    // input has audio to make AAC of
	encoder string
}

// ffmpegArgs is the command line of a job: fragmented MP4 in on stdin,
// MPEG-TS out on stdout, timestamps kept (-copyts) so that the output
// continues the source's timeline, nothing buffered that need not be.
func ffmpegArgs(j transcodeJob) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-probesize", "32768", "-analyzeduration", "0", "-f", "mp4", "-i", "pipe:0", "-map", "0:v:0"}
	if j.audio {
		args = append(args, "-map", "0:a:0")
	}
	if j.video {
		filter := "null"
		if j.height > 0 {
			filter = "scale=-2:'min(ih," + strconv.Itoa(j.height) + ")'"
		}
		args = append(args, "-vf", filter+hardwareFilter(j.encoder))
		args = append(args, videoEncoders[j.encoder]...)
		// The source's keyframes, and one every 2 s at least.
		gop := 50
		if j.fps > 0 {
			gop = max(1, int(2*j.fps+0.5))
		}
		args = append(args, "-g", strconv.Itoa(gop), "-force_key_frames", "source")
	} else {
		args = append(args, "-c:v", "copy")
	}
	if j.audio {
		args = append(args, "-c:a", "aac", "-b:a", "96k")
	}
	return append(args, "-copyts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "-f", "mpegts", "pipe:1")
}

// validEncoder checks a -transcode-encoder value.
func validEncoder(name string) error {
	if name == encoderAuto {
		return nil
	}
	if _, ok := videoEncoders[name]; !ok {
		names := []string{encoderAuto}
		for n := range videoEncoders {
			names = append(names, n)
		}
		slices.Sort(names[1:])
		return fmt.Errorf("-transcode-encoder %q is not one decoder drives; use one of %v", name, names)
	}
	return nil
}
