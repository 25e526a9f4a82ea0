package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// demoClip is the stream behind demo://: 8 s of a test pattern with a
// seconds counter and a beep each second (testdata/make-demo.sh).
//
//go:embed testdata/demo.ts
var demoClip []byte

// tsPlayer plays an MPEG-TS stream in real time, paced by its own
// timestamps as a camera would send it, optionally looping forever with
// timestamps that keep increasing. It is the demo:// source and the file://
// source.
type tsPlayer struct {
	open func() (io.ReadCloser, error)
	loop bool
}

// newDemoProducer serves demo://, the stream that needs no camera.
func newDemoProducer(src *url.URL, _ sourceOptions) (Producer, error) {
	if src.RawQuery != "" || strings.Trim(src.Path, "/") != "" {
		return nil, errors.New("demo:// takes no path or parameters")
	}
	return &tsPlayer{open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(demoClip)), nil
	}, loop: true}, nil
}

// newFileProducer serves file:///name.ts from -media-dir, and only from
// there: a page names the file, so the path is confined to the directory.
//
//	file:///clip.ts?loop=true
func newFileProducer(src *url.URL, opts sourceOptions) (Producer, error) {
	dir := opts.cfg.MediaDir
	if dir == "" {
		return nil, errors.New("file sources are off; start decoder with -media-dir DIR to play MPEG-TS files from DIR")
	}
	q, err := sourceQuery(src)
	if err != nil {
		return nil, err
	}
	for key := range q {
		if key != "loop" {
			return nil, fmt.Errorf("unknown parameter %q (known: loop)", key)
		}
	}
	loop := false
	switch q.Get("loop") {
	case "", "false", "0":
	case "true", "1":
		loop = true
	default:
		return nil, fmt.Errorf("loop must be true or false, got %q", q.Get("loop"))
	}
	name := strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+src.Host+"/"+src.Path)), "/")
	if name == "" || name == "." {
		return nil, errors.New("name a file, such as file:///clip.ts")
	}
	return &tsPlayer{open: func() (io.ReadCloser, error) { return openInside(dir, filepath.FromSlash(name)) }, loop: loop}, nil
}

// openInside opens name inside dir, refusing any path that leaves it,
// symbolic links included, and anything but a regular file (a FIFO would
// block the open). Its errors name the file as the page gave it, never the
// directory.
func openInside(dir, name string) (io.ReadCloser, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, errors.New("the media directory cannot be opened; check -media-dir")
	}
	defer root.Close()
	st, err := root.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no file %q in the media directory", name)
	case err != nil:
		return nil, fmt.Errorf("file %q is outside the media directory or unreadable", name)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%q is not a regular file", name)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot open %q", name)
	}
	return f, nil
}

// ptsOffset is pts-dts for MPEG-TS timestamps, which wrap at 2^33.
func ptsOffset(pts, dts int64) int64 {
	const wrap = 1 << 33
	d := (pts - dts) & (wrap - 1)
	if d >= wrap/2 {
		d -= wrap
	}
	return d
}

// errNoProgress stops a loop over a stream that holds no frames.
var errNoProgress = errors.New("the stream holds no video frames")

func (p *tsPlayer) Run(ctx context.Context, feed *Feed) error {
	m := newMuxer(feed)
	pace := newPacer(ctx)
	defer pace.stop()
	var clock int64 // stream time at which the next pass starts, 90 kHz
	for {
		muxed := m.framesMuxed()
		end, err := p.play(m, pace, clock)
		if err != nil {
			return err
		}
		if m.framesMuxed() == muxed {
			if err := m.unplayable(0); err != nil {
				return err
			}
			return permanent(errors.New("the stream has no playable video"))
		}
		if !p.loop {
			m.end()
			return nil
		}
		if end <= clock {
			return errNoProgress
		}
		clock = end
	}
}

// play makes one pass over the stream, starting at stream time clock, and
// returns the stream time at which it ended.
func (p *tsPlayer) play(m *muxer, pace *pacer, clock int64) (int64, error) {
	rc, err := p.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	r := &mpegts.Reader{R: bufio.NewReaderSize(rc, 64<<10)}
	if err := r.Initialize(); err != nil {
		return 0, fmt.Errorf("not a playable MPEG-TS stream: %w", err)
	}
	setup, video, audio := tsTracks(r)
	if video == nil {
		return 0, errors.New("the stream has no H.264 or H.265 video")
	}
	m.reset(setup)
	pass := &tsPass{pace: pace, clock: clock, end: clock, lastVideo: -1}
	pass.td.Initialize()
	onVideo := func(pts, dts int64, au [][]byte) error {
		t, err := pass.video(dts)
		if err != nil {
			return err
		}
		m.writeVideo(fromClock(t+ptsOffset(pts, dts), videoTimescale), au)
		return nil
	}
	if setup.video == formatH265 {
		r.OnDataH265(video, onVideo)
	} else {
		r.OnDataH264(video, onVideo)
	}
	if audio != nil {
		r.OnDataMPEG4Audio(audio, func(pts int64, aus [][]byte) error {
			t, err := pass.at(pts)
			if err != nil {
				return err
			}
			m.writeAudio(fromClock(t, videoTimescale), aus)
			return nil
		})
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return pass.end, nil
			}
			return 0, err
		}
	}
}

// tsTracks picks a stream's first video track and first AAC track.
func tsTracks(r *mpegts.Reader) (setup trackSetup, video, audio *mpegts.Track) {
	for _, t := range r.Tracks() {
		switch c := t.Codec.(type) {
		case *tscodecs.H264:
			if video == nil {
				video, setup.video = t, formatH264
			}
		case *tscodecs.H265:
			if video == nil {
				video, setup.video = t, formatH265
			}
		case *tscodecs.MPEG4Audio:
			if audio == nil {
				audio, setup.audio = t, aacSetup(mpeg4audio.AudioSpecificConfig(c.Config))
			}
		}
	}
	return setup, video, audio
}

// tsPass maps one pass's timestamps onto the stream time of the whole
// play, which keeps increasing from pass to pass, and paces them.
type tsPass struct {
	pace      *pacer
	td        mpegts.TimeDecoder
	first     int64 // the pass's first timestamp
	started   bool
	clock     int64 // stream time at which the pass began
	end       int64 // stream time at which the pass ends: its last frame's end
	lastVideo int64
}

// at waits until the packet with timestamp ts is due and returns its
// stream time.
func (ps *tsPass) at(ts int64) (int64, error) {
	ts = ps.td.Decode(ts)
	if !ps.started {
		ps.first, ps.started = ts, true
	}
	t := ps.clock + ts - ps.first
	return t, ps.pace.wait(t)
}

// video is at for a video frame, which also moves the pass's end.
func (ps *tsPass) video(dts int64) (int64, error) {
	t, err := ps.at(dts)
	if err != nil {
		return 0, err
	}
	if ps.lastVideo >= 0 && t > ps.lastVideo {
		ps.end = max(ps.end, t+(t-ps.lastVideo))
	}
	ps.lastVideo = t
	return t, nil
}

// maxPacingJump is the largest step in a stream's timestamps that pacing
// follows; a larger one is a discontinuity, played straight on.
const maxPacingJump = 2 * time.Second

// minPacketGap is the least wall time between two packets: a stream whose
// timestamps barely advance would otherwise be played as fast as the
// machine can, a whole core for nothing.
const minPacketGap = 2 * time.Millisecond

// pacer releases packets at the wall-clock time their stream time says,
// as a camera would send them, and never faster than one per
// minPacketGap.
type pacer struct {
	ctx   context.Context
	start time.Time // wall time of stream time 0
	next  time.Time // earliest wall time for the next packet
	timer *time.Timer
}

func newPacer(ctx context.Context) *pacer {
	t := time.NewTimer(0)
	<-t.C
	now := time.Now()
	return &pacer{ctx: ctx, start: now, next: now, timer: t}
}

func (p *pacer) stop() { p.timer.Stop() }

// wait blocks until stream time t (90 kHz) is due, or ctx is done.
func (p *pacer) wait(t int64) error {
	now := time.Now()
	due := p.start.Add(fromClock(t, videoTimescale))
	if d := due.Sub(now); d > maxPacingJump || d < -maxPacingJump {
		// The stream's timestamps jump: pace from here rather than
		// sleep through the jump or rush through a step back.
		p.start = p.start.Add(-d)
		due = now
	}
	due = maxTime(due, p.next)
	p.next = due.Add(minPacketGap)
	if wait := due.Sub(now); wait > 0 {
		p.timer.Reset(wait)
		select {
		case <-p.ctx.Done():
			return p.ctx.Err()
		case <-p.timer.C:
		}
	}
	return p.ctx.Err()
}

// maxTime is the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
