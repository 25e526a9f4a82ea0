package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// rtspProducer pulls an RTSP camera (rtsp:// or rtsps://) once for all its
// viewers: H.264 or H.265 video, and AAC audio when the camera has it.
//
// A camera that cannot be reached, drops the connection, stalls or reboots
// is retried with backoff (see runWithRetries) while viewers stay
// connected and see the status. Stopping it sends TEARDOWN and closes the
// connection.
type rtspProducer struct {
	u         *base.URL
	transport gortsplib.Protocol
	cfg       SourceConfig
	// secrets are the URL's user and password, scrubbed from every error
	// text a viewer or the log gets.
	secrets []string

	// lastVideo is the Unix ns of the current session's newest video
	// frame, written by the packet callbacks.
	lastVideo atomic.Int64
}

func newRTSPProducer(src *url.URL, opts sourceOptions) (Producer, error) {
	if src.Host == "" {
		return nil, errors.New("missing host: use rtsp://camera/stream or rtsp://user:password@camera:554/stream")
	}
	if _, port, err := net.SplitHostPort(src.Host); err == nil && port == "" {
		return nil, errors.New("empty port after the host")
	}
	u, err := base.ParseURL(src.String())
	if err != nil {
		return nil, errors.New("not a valid RTSP URL")
	}
	p := &rtspProducer{u: u, cfg: opts.cfg, transport: gortsplib.ProtocolTCP}
	if opts.transport == "udp" {
		p.transport = gortsplib.ProtocolUDP
	}
	p.secrets = urlSecrets(src)
	return p, nil
}

func (p *rtspProducer) Run(ctx context.Context, feed *Feed) error {
	m := newMuxer(feed)
	return runWithRetries(ctx, feed, p.cfg, func(ctx context.Context) (bool, error) {
		err := p.session(ctx, m, feed.log)
		return m.end(), p.scrub(err)
	})
}

// errHandshakeTimeout ends a session whose RTSP handshake (up to PLAY) took
// longer than handshakeTimeouts source timeouts: each request is bounded
// by the source timeout, but a server can stall between them.
var errHandshakeTimeout = errors.New("the camera did not complete the RTSP handshake in time")

const handshakeTimeouts = 3

// maxRedirects bounds the redirects a DESCRIBE follows; gortsplib follows
// them without end, so a camera that redirects to itself would be called
// thousands of times a second.
const maxRedirects = 5

// errRedirectLoop ends a session redirected more than maxRedirects times.
var errRedirectLoop = fmt.Errorf("the camera redirected more than %d times (a redirect loop?): check the URL", maxRedirects)

// session runs one RTSP session until it fails or ctx is done.
func (p *rtspProducer) session(ctx context.Context, m *muxer, log *slog.Logger) error {
	decodeErrors := rateLimitedLog(log, "RTSP decode errors")
	c := &gortsplib.Client{
		Scheme:        p.u.Scheme,
		Host:          p.u.Host,
		Protocol:      &p.transport,
		ReadTimeout:   p.cfg.Timeout,
		WriteTimeout:  p.cfg.Timeout,
		TLSConfig:     &tls.Config{ServerName: p.u.Hostname()},
		UserAgent:     "decoder/" + Version,
		OnPacketsLost: func(uint64) { m.lost() },
		OnDecodeError: func(err error) { decodeErrors(p.scrub(err)) },
	}
	// Each hop of a redirect is a DESCRIBE, and another one if the camera
	// asks for credentials. Past the bound, the handshake timer fires at
	// once: Close cannot be called from the client's own callback.
	var describes atomic.Int32
	var handshakeExpired, redirectLoop atomic.Bool
	var handshake *time.Timer
	c.OnRequest = func(req *base.Request) {
		if req.Method == base.Describe && describes.Add(1) > 2*(maxRedirects+1) {
			redirectLoop.Store(true)
			handshake.Reset(0)
		}
	}
	if err := c.Start(); err != nil {
		return err
	}
	defer c.Close()
	handshake = time.AfterFunc(handshakeTimeouts*p.cfg.Timeout, func() {
		handshakeExpired.Store(true)
		c.Close()
	})
	defer handshake.Stop()
	// Close is what interrupts a request in progress.
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	err := p.handshake(c, m, log)
	if !handshake.Stop() && handshakeExpired.Load() && ctx.Err() == nil {
		if redirectLoop.Load() {
			return errRedirectLoop
		}
		return errHandshakeTimeout
	}
	if err != nil {
		return err
	}
	return p.play(ctx, c, m)
}

// handshake describes, sets up and plays the stream, with m receiving it.
func (p *rtspProducer) handshake(c *gortsplib.Client, m *muxer, log *slog.Logger) error {
	desc, _, err := c.Describe(p.u)
	if err != nil {
		return describeError(err)
	}
	tr, err := findTracks(desc)
	if err != nil {
		return err
	}
	if _, err := c.Setup(desc.BaseURL, tr.video, 0, 0); err != nil {
		return fmt.Errorf("failed to set up video: %w", err)
	}
	if tr.audio != nil {
		if _, err := c.Setup(desc.BaseURL, tr.audio, 0, 0); err != nil {
			// Video alone is still worth playing.
			log.Warn("playing without audio: the camera refused to set it up", "err", p.scrub(err))
			tr.audio, tr.setup.audio = nil, nil
		}
	}
	m.reset(tr.setup)
	p.lastVideo.Store(time.Now().UnixNano())
	if err := p.readVideo(c, tr, m); err != nil {
		return err
	}
	if err := readAudio(c, tr, m); err != nil {
		return err
	}
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("failed to play: %w", err)
	}
	return nil
}

// rtspTracks are the tracks of a session that decoder plays: one video
// track, H.264 or H.265, and one audio track if the camera has one it can
// use (AAC, Opus, G.711 or 16-bit linear PCM).
type rtspTracks struct {
	setup      trackSetup
	video      *description.Media
	h264       *format.H264
	h265       *format.H265
	audio      *description.Media
	audioTrack format.Format
}

// findTracks picks the tracks to play from a session description.
func findTracks(desc *description.Session) (rtspTracks, error) {
	var tr rtspTracks
	if tr.video = desc.FindFormat(&tr.h264); tr.video != nil {
		tr.setup.video = formatH264
		tr.setup.sps, tr.setup.pps = tr.h264.SafeParams()
	} else if tr.video = desc.FindFormat(&tr.h265); tr.video != nil {
		tr.setup.video = formatH265
		tr.setup.vps, tr.setup.sps, tr.setup.pps = tr.h265.SafeParams()
	} else {
		return tr, permanent(fmt.Errorf("the stream has no H.264 or H.265 video (it has %s); decoder plays H.264 and H.265", describeFormats(desc)))
	}
	tr.audio, tr.audioTrack, tr.setup.audio = findAudio(desc)
	return tr, nil
}

// findAudio picks the audio track to play, the one browsers take with the
// least work first.
func findAudio(desc *description.Session) (*description.Media, format.Format, *audioSetup) {
	var aac *format.MPEG4Audio
	if m := desc.FindFormat(&aac); m != nil && aac.Config != nil { // not LATM-framed
		return m, aac, aacSetup(*aac.Config)
	}
	var op *format.Opus
	if m := desc.FindFormat(&op); m != nil {
		return m, op, &audioSetup{format: audioOpus, rate: opusRate, channels: max(op.ChannelCount, 1)}
	}
	var g711 *format.G711
	if m := desc.FindFormat(&g711); m != nil {
		return m, g711, pcmSetup(g711)
	}
	var lpcm *format.LPCM
	if m := desc.FindFormat(&lpcm); m != nil && lpcm.BitDepth == 16 {
		return m, lpcm, pcmSetup(lpcm)
	}
	return nil, nil, nil
}

// pcmSetup describes a G.711 or 16-bit linear PCM track.
func pcmSetup(f format.Format) *audioSetup {
	p, _ := pcmFormatOf(f)
	p.Channels = max(p.Channels, 1)
	return &audioSetup{format: p.name(), rate: p.SampleRate, channels: p.Channels, pcm: p}
}

// readVideo has the video track's packets decoded into access units and
// muxed. PacketPTS must see every packet: the first one it times is one
// that starts a frame whose PTS equals its DTS.
func (p *rtspProducer) readVideo(c *gortsplib.Client, tr rtspTracks, m *muxer) error {
	var decode func(*rtp.Packet) ([][]byte, error)
	var f format.Format
	if tr.h264 != nil {
		dec, err := tr.h264.CreateDecoder()
		if err != nil {
			return permanent(fmt.Errorf("unusable H.264 track: %w", err))
		}
		decode, f = dec.Decode, tr.h264
	} else {
		dec, err := tr.h265.CreateDecoder()
		if err != nil {
			return permanent(fmt.Errorf("unusable H.265 track: %w", err))
		}
		decode, f = dec.Decode, tr.h265
	}
	c.OnPacketRTP(tr.video, f, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(tr.video, pkt)
		if !ok {
			return
		}
		au, err := decode(pkt)
		if err != nil {
			if !incompleteFrame(err) {
				m.dropped(frameProblem(err))
			}
			return // the muxer waits for a keyframe
		}
		p.lastVideo.Store(time.Now().UnixNano())
		m.writeVideo(fromClock(pts, videoTimescale), au)
	})
	return nil
}

// readAudio has the audio track's packets, if there is one, decoded into
// access units and muxed.
func readAudio(c *gortsplib.Client, tr rtspTracks, m *muxer) error {
	if tr.audio == nil {
		return nil
	}
	decode, err := audioDecoder(tr.audioTrack)
	if err != nil {
		return permanent(fmt.Errorf("unusable %s track: %w", tr.setup.audio.format, err))
	}
	rate := tr.audioTrack.ClockRate()
	c.OnPacketRTP(tr.audio, tr.audioTrack, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(tr.audio, pkt)
		if !ok {
			return
		}
		if aus, err := decode(pkt); err == nil {
			m.writeAudio(fromClock(pts, rate), aus)
		}
	})
	return nil
}

// audioDecoder returns what turns an audio track's RTP packets into access
// units: AAC frames, Opus packets, or blocks of G.711 or PCM samples.
func audioDecoder(f format.Format) (func(*rtp.Packet) ([][]byte, error), error) {
	one := func(decode func(*rtp.Packet) ([]byte, error)) func(*rtp.Packet) ([][]byte, error) {
		return func(pkt *rtp.Packet) ([][]byte, error) {
			au, err := decode(pkt)
			if err != nil || len(au) == 0 {
				return nil, err
			}
			return [][]byte{au}, nil
		}
	}
	switch f := f.(type) {
	case *format.MPEG4Audio:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		return dec.Decode, nil
	case *format.Opus:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		return one(dec.Decode), nil
	case *format.G711:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		return one(dec.Decode), nil
	case *format.LPCM:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		return one(dec.Decode), nil
	}
	return nil, fmt.Errorf("no decoder for %s", f.Codec())
}

// play waits while the session plays, until it fails, the video stalls or
// publishes nothing (the muxer says why), or ctx is done.
func (p *rtspProducer) play(ctx context.Context, c *gortsplib.Client, m *muxer) error {
	ended := make(chan error, 1)
	go func() { ended <- c.Wait() }() // ends when c is closed, at the latest by session's deferred Close
	check := time.NewTicker(p.cfg.Timeout / 4)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ended:
			return connectionError(err)
		case <-check.C:
			if silent := time.Since(time.Unix(0, p.lastVideo.Load())); silent > p.cfg.Timeout {
				return fmt.Errorf("stalled: no video for %v", silent.Round(time.Second))
			}
			if err := m.unplayable(p.cfg.Timeout); err != nil {
				return err
			}
		}
	}
}

// rateLimitedLog returns a function that logs what it is given at most
// once every 10 s, with how many were not logged: a camera that sends
// garbage must not flood the log.
func rateLimitedLog(log *slog.Logger, what string) func(error) {
	var mu sync.Mutex
	var last time.Time
	var skipped int
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 10*time.Second {
			skipped++
			return
		}
		log.Warn(what, "err", err, "not_logged_since_last", skipped)
		last, skipped = time.Now(), 0
	}
}
