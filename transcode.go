package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// ffmpegOutQueue bounds the units read from ffmpeg that wait for the
// converter; when it is full, reading (and so ffmpeg) waits.
const ffmpegOutQueue = 64

// stderrLines is how much of ffmpeg's stderr is kept, for saying why it
// failed.
const stderrLines = 8

// ffmpegProcess is one run of ffmpeg for a transcode: fragmented MP4 in on
// its stdin, MPEG-TS out on its stdout, read into units. It runs in its own
// process group, which stop kills whole; on Linux the kernel kills it if
// decoder dies, and everywhere it ends when its input closes, which
// decoder's death also does.
//
// write and stop are for the converter's goroutine; units and ended may be
// read from anywhere.
type ffmpegProcess struct {
	cmd    *exec.Cmd
	stdin  *os.File
	units  chan ffmpegUnit
	ended  chan struct{} // closed once the process and its reader are done
	err    error         // why it ended; valid once ended is closed
	stderr *tailWriter
	quit   chan struct{}
	once   sync.Once
}

// ffmpegUnit is one frame read from ffmpeg's output, on the input's
// timeline (ffmpeg runs with -copyts), or, first of all, its tracks.
type ffmpegUnit struct {
	// setup marks the first unit, which says which tracks follow: audio
	// is set if there is an AAC track.
	setup    bool
	video    bool
	pts, dts int64 // 90 kHz
	au       [][]byte
	// audio is the AAC track's config, set on every audio unit.
	audio *mpeg4audio.AudioSpecificConfig
}

// startFFmpeg starts path with args and reads its output.
func startFFmpeg(path string, args []string, log *slog.Logger) (*ffmpegProcess, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &ffmpegProcess{stdin: inW, units: make(chan ffmpegUnit, ffmpegOutQueue), ended: make(chan struct{}),
		stderr: &tailWriter{max: stderrLines}, quit: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.SysProcAttr = childProcAttr()
	log.Debug("starting ffmpeg", "command", path+" "+strings.Join(args, " "))
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("cannot start ffmpeg: %w", err)
	}
	go p.run(outR)
	return p, nil
}

// run reads the output until it ends, then reaps the process.
func (p *ffmpegProcess) run(out *os.File) {
	readErr := p.read(out)
	out.Close()
	// The output has ended or cannot be read: the process is of no more
	// use, whether or not it knows.
	killGroup(p.cmd.Process)
	waitErr := p.cmd.Wait()
	switch {
	case readErr != nil && !errors.Is(readErr, errQuit):
		p.err = readErr
	case waitErr != nil:
		p.err = fmt.Errorf("ffmpeg exited: %v", waitErr)
	default:
		p.err = errors.New("ffmpeg exited")
	}
	if tail := p.stderr.String(); tail != "" {
		p.err = fmt.Errorf("%w: %s", p.err, tail)
	}
	close(p.ended)
}

// errQuit ends reading when the process is stopped.
var errQuit = errors.New("stopped")

// read parses ffmpeg's MPEG-TS output into units: its H.264 (or copied
// H.265) video and its AAC audio. The first unit says which tracks
// follow, so it waits for the first audio packet, whose header holds the
// AAC config: what comes meanwhile is held, a few frames at most.
func (p *ffmpegProcess) read(out io.Reader) error {
	send := func(u ffmpegUnit) error {
		select {
		case p.units <- u:
			return nil
		case <-p.quit:
			return errQuit
		}
	}
	ts := newTSReader(out)
	// Timestamps wrap at 2^33 ticks (26.5 hours): unwrapped from the first
	// one, which stays as it is (the source's timeline), the output
	// carries on.
	var td mpegts.TimeDecoder
	td.Initialize()
	origin := int64(-1)
	var held []ffmpegUnit
	setup := ffmpegUnit{setup: true}
	for sent := false; ; {
		pes, err := ts.next()
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case errors.Is(err, errNotTS):
			return errors.New("ffmpeg wrote what is not MPEG-TS")
		case err != nil:
			return fmt.Errorf("reading ffmpeg's output: %v", err)
		}
		u, ok := unitOf(pes)
		if !ok {
			continue
		}
		if origin < 0 {
			origin = pes.dts
		}
		u.dts = origin + td.Decode(pes.dts)
		u.pts = u.dts + ptsOffset(pes.pts, pes.dts)
		if sent {
			if err := send(u); err != nil {
				return err
			}
			continue
		}
		held = append(held, u)
		if u.audio != nil {
			setup.audio = u.audio
		}
		if setup.audio != nil || !ts.hasAudio() || len(held) > ffmpegOutQueue {
			for _, u := range append([]ffmpegUnit{setup}, held...) {
				if err := send(u); err != nil {
					return err
				}
			}
			sent, held = true, nil
		}
	}
}

// unitOf makes a unit of a PES packet: a video frame's NAL units, or AAC
// frames and their config.
func unitOf(pes tsPES) (ffmpegUnit, bool) {
	if pes.typ == tsTypeAAC {
		var pkts mpeg4audio.ADTSPackets
		if err := pkts.Unmarshal(pes.data); err != nil || len(pkts) == 0 {
			return ffmpegUnit{}, false
		}
		first := pkts[0]
		cfg := &mpeg4audio.AudioSpecificConfig{Type: first.Type, SampleRate: first.SampleRate, ChannelConfig: first.ChannelConfig, ChannelCount: int(first.ChannelConfig)}
		aus := make([][]byte, len(pkts))
		for i, pkt := range pkts {
			aus[i] = pkt.AU
		}
		return ffmpegUnit{pts: pes.pts, dts: pes.pts, au: aus, audio: cfg}, true
	}
	var au h264.AnnexB
	if err := au.Unmarshal(pes.data); err != nil {
		return ffmpegUnit{}, false
	}
	return ffmpegUnit{video: true, pts: pes.pts, dts: pes.dts, au: au}, true
}

// write feeds ffmpeg, waiting at most timeout: an ffmpeg that takes no
// input for that long has hung.
func (p *ffmpegProcess) write(b []byte, timeout time.Duration) error {
	p.stdin.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := p.stdin.Write(b); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errors.New("ffmpeg took no input for the source timeout")
		}
		return fmt.Errorf("ffmpeg stopped reading its input (%v)", err)
	}
	return nil
}

// stop kills the process group and waits until all of it is gone.
// Idempotent.
func (p *ffmpegProcess) stop() {
	p.once.Do(func() {
		close(p.quit)
		p.stdin.Close()
		killGroup(p.cmd.Process)
	})
	<-p.ended
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial string
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	text := w.partial + string(b)
	parts := strings.Split(text, "\n")
	w.partial = parts[len(parts)-1]
	if len(w.partial) > 1024 {
		w.partial = w.partial[:1024]
	}
	for _, l := range parts[:len(parts)-1] {
		if l = strings.TrimSpace(l); l != "" {
			w.lines = append(w.lines, l)
		}
	}
	if n := len(w.lines); n > w.max {
		w.lines = append(w.lines[:0], w.lines[n-w.max:]...)
	}
	return len(b), nil
}

// String is the lines kept, joined.
func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.lines
	if w.partial != "" {
		lines = append(append([]string(nil), lines...), w.partial)
	}
	return strings.Join(lines, " / ")
}

// lookFFmpeg finds ffmpeg: the configured path, or ffmpeg on PATH.
func lookFFmpeg(configured string) (string, error) {
	if configured != "" {
		if _, err := exec.LookPath(configured); err != nil {
			return "", fmt.Errorf("ffmpeg was not found at %s: install ffmpeg or fix -ffmpeg", configured)
		}
		return configured, nil
	}
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", errNoFFmpeg
	}
	return path, nil
}

// errNoFFmpeg is why a transcode cannot run on this machine.
var errNoFFmpeg = errors.New("ffmpeg was not found: install ffmpeg or set -ffmpeg")

// runFFmpegOnce runs ffmpeg with input on stdin until it exits or ctx is
// done, and returns its output; for short jobs such as snapshots and
// encoder trials.
func runFFmpegOnce(ctx context.Context, path string, args []string, input []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = childProcAttr()
	cmd.Cancel = func() error { killGroup(cmd.Process); return nil }
	cmd.WaitDelay = time.Second
	stderr := &tailWriter{max: stderrLines}
	cmd.Stdin, cmd.Stderr = bytes.NewReader(input), stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ffmpeg failed (%v): %s", err, stderr)
	}
	return out, nil
}
