package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
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
	if len(src.Query()) > 0 || strings.Trim(src.Path, "/") != "" {
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
	q := src.Query()
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
	path := filepath.Join(dir, filepath.FromSlash(name))
	return &tsPlayer{open: func() (io.ReadCloser, error) { return openInside(dir, path) }, loop: loop}, nil
}

// openInside opens path if, with symbolic links resolved, it lies inside
// dir. Its errors name the file as the page gave it, not the directory.
func openInside(dir, path string) (io.ReadCloser, error) {
	name, _ := filepath.Rel(dir, path)
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("media directory unusable: %w", err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("no file %q in the media directory", filepath.ToSlash(name))
	}
	if rel, err := filepath.Rel(root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("file %q is outside the media directory", filepath.ToSlash(name))
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("cannot open %q: %w", filepath.ToSlash(name), errors.Unwrap(err))
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%q is not a regular file", filepath.ToSlash(name))
	}
	return f, nil
}

// errNoProgress stops a loop over a stream that holds no frames.
var errNoProgress = errors.New("the stream holds no video frames")

func (p *tsPlayer) Run(ctx context.Context, feed *Feed) error {
	m := newMuxer(feed)
	start := time.Now()
	var clock int64 // stream time at which the next pass starts, 90 kHz
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		end, err := p.play(ctx, m, start, clock, timer)
		if err != nil {
			return err
		}
		if !p.loop {
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
func (p *tsPlayer) play(ctx context.Context, m *muxer, start time.Time, clock int64, timer *time.Timer) (int64, error) {
	rc, err := p.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	r := &mpegts.Reader{R: bufio.NewReaderSize(rc, 64<<10)}
	if err := r.Initialize(); err != nil {
		return 0, fmt.Errorf("not a playable MPEG-TS stream: %w", err)
	}
	var setup trackSetup
	var video, audio *mpegts.Track
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
				cfg := mpeg4audio.AudioSpecificConfig(c.Config)
				audio, setup.audio = t, &cfg
			}
		}
	}
	if video == nil {
		return 0, errors.New("the stream has no H.264 or H.265 video")
	}
	m.reset(setup)

	var td mpegts.TimeDecoder
	td.Initialize()
	var first int64
	started := false
	end := clock
	// at paces the pass and returns the stream time of ts.
	at := func(ts int64) (int64, error) {
		ts = td.Decode(ts)
		if !started {
			first, started = ts, true
		}
		t := clock + ts - first
		if wait := time.Until(start.Add(fromClock(t, videoTimescale))); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return t, nil
	}
	lastVideo := int64(-1)
	onVideo := func(pts, dts int64, au [][]byte) error {
		t, err := at(dts)
		if err != nil {
			return err
		}
		if lastVideo >= 0 && t > lastVideo {
			end = max(end, t+(t-lastVideo))
		}
		lastVideo = t
		return m.writeVideo(fromClock(t+pts-dts, videoTimescale), au)
	}
	if setup.video == formatH265 {
		r.OnDataH265(video, onVideo)
	} else {
		r.OnDataH264(video, onVideo)
	}
	if audio != nil {
		r.OnDataMPEG4Audio(audio, func(pts int64, aus [][]byte) error {
			t, err := at(pts)
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
				return end, nil
			}
			return 0, err
		}
	}
}
