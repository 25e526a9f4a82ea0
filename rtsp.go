package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
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
	var h264f *format.H264
	var h265f *format.H265
	var aacf *format.MPEG4Audio
	var setup trackSetup
	videoMedia := desc.FindFormat(&h264f)
	if videoMedia != nil {
		setup.video = formatH264
		setup.sps, setup.pps = h264f.SafeParams()
	} else if videoMedia = desc.FindFormat(&h265f); videoMedia != nil {
		setup.video = formatH265
		setup.vps, setup.sps, setup.pps = h265f.SafeParams()
	} else {
		return permanent(fmt.Errorf("the stream has no H.264 or H.265 video (it has %s); decoder plays H.264 and H.265", describeFormats(desc)))
	}
	audioMedia := desc.FindFormat(&aacf)
	if audioMedia != nil && aacf.Config == nil {
		audioMedia = nil // LATM-framed AAC: played without audio
	}
	if audioMedia != nil {
		cfg := *aacf.Config
		setup.audio = &cfg
	}

	if _, err := c.Setup(desc.BaseURL, videoMedia, 0, 0); err != nil {
		return fmt.Errorf("failed to set up video: %w", err)
	}
	if audioMedia != nil {
		if _, err := c.Setup(desc.BaseURL, audioMedia, 0, 0); err != nil {
			// Video alone is still worth playing.
			log.Warn("playing without audio: the camera refused to set it up", "err", p.scrub(err))
			audioMedia, setup.audio = nil, nil
		}
	}

	m.reset(setup)
	p.lastVideo.Store(time.Now().UnixNano())
	// PacketPTS must see every packet: the first one it times is one that
	// starts a frame whose PTS equals its DTS.
	onVideo := func(decode func(*rtp.Packet) ([][]byte, error)) func(*rtp.Packet) {
		return func(pkt *rtp.Packet) {
			pts, ok := c.PacketPTS(videoMedia, pkt)
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
		}
	}
	if h264f != nil {
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return permanent(fmt.Errorf("unusable H.264 track: %w", err))
		}
		c.OnPacketRTP(videoMedia, h264f, onVideo(dec.Decode))
	} else {
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return permanent(fmt.Errorf("unusable H.265 track: %w", err))
		}
		c.OnPacketRTP(videoMedia, h265f, onVideo(dec.Decode))
	}
	if audioMedia != nil {
		dec, err := aacf.CreateDecoder()
		if err != nil {
			return permanent(fmt.Errorf("unusable AAC track: %w", err))
		}
		rate := aacf.ClockRate()
		c.OnPacketRTP(audioMedia, aacf, func(pkt *rtp.Packet) {
			pts, ok := c.PacketPTS(audioMedia, pkt)
			if !ok {
				return
			}
			if aus, err := dec.Decode(pkt); err == nil {
				m.writeAudio(fromClock(pts, rate), aus)
			}
		})
	}
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("failed to play: %w", err)
	}
	return nil
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

// frameProblem words an RTP decoder's error for a viewer.
func frameProblem(err error) error {
	if strings.Contains(err.Error(), "too big") {
		return fmt.Errorf("the camera sends frames larger than %d MiB, the most decoder takes (%v)", h264.MaxAccessUnitSize>>20, err)
	}
	return fmt.Errorf("the camera sends video decoder cannot take: %w", err)
}

// incompleteFrame reports whether an RTP decoder's error only means that
// a frame is not complete yet, or began before the session did: not a
// problem with the stream.
func incompleteFrame(err error) bool {
	return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) ||
		errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
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

// describeError says what a failed DESCRIBE means for the user.
func describeError(err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized:
			return permanent(errors.New("the camera refused the credentials (401 Unauthorized): put the right user and password in the URL, as rtsp://user:password@camera/stream"))
		case base.StatusForbidden:
			return permanent(errors.New("the camera refused access to this stream (403 Forbidden)"))
		case base.StatusNotFound:
			return errors.New("the camera has no such stream (404 Not Found): check the path after the host")
		}
		return fmt.Errorf("the camera answered %d %s", bad.Code, bad.Message)
	}
	return requestError(err)
}

// connectionError rewords the errors of a connection that failed.
func connectionError(err error) error {
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("the camera closed the stream")
	case errors.As(err, new(liberrors.ErrClientTCPTimeout)), errors.As(err, new(liberrors.ErrClientUDPTimeout)):
		return errors.New("stalled: the camera sent nothing for the source timeout")
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the camera did not answer in time: %w", err)
	case errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the camera closed the connection")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return fmt.Errorf("cannot reach the camera: %w", opErr.Err)
	}
	return err
}

// Answers that are not RTSP.
var (
	errNotRTSP          = errors.New("the server did not answer in RTSP: check that the host and port are an RTSP camera's (RTSP usually listens on port 554)")
	errClosedWithoutAns = errors.New("the server closed the connection without an RTSP answer: it is not an RTSP camera, or it refuses more clients")
)

// requestError rewords the errors of a request that got no usable answer.
func requestError(err error) error {
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errClosedWithoutAns
	case strings.Contains(err.Error(), "expected 'RTSP/1.0'"):
		return errNotRTSP
	}
	return connectionError(err)
}

// describeFormats lists a session's codecs for an error message.
func describeFormats(desc *description.Session) string {
	var names []string
	for _, media := range desc.Medias {
		for _, f := range media.Formats {
			names = append(names, f.Codec())
		}
	}
	if len(names) == 0 {
		return "no media"
	}
	return strings.Join(names, ", ")
}

// scrub removes the URL's credentials from err's text.
func (p *rtspProducer) scrub(err error) error {
	if err == nil || len(p.secrets) == 0 {
		return err
	}
	text := err.Error()
	for _, s := range p.secrets {
		text = strings.ReplaceAll(text, s, "***")
	}
	if text == err.Error() {
		return err
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return permanent(errors.New(text))
	}
	return errors.New(text)
}
