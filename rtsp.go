package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
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
	if src.User != nil {
		if name := src.User.Username(); name != "" {
			p.secrets = append(p.secrets, name)
		}
		if pw, ok := src.User.Password(); ok && pw != "" {
			p.secrets = append(p.secrets, pw)
		}
	}
	return p, nil
}

func (p *rtspProducer) Run(ctx context.Context, feed *Feed) error {
	m := newMuxer(feed)
	return runWithRetries(ctx, feed, p.cfg, func(ctx context.Context) (bool, error) {
		live, err := p.session(ctx, m)
		return live, p.scrub(err)
	})
}

// session runs one RTSP session until it fails or ctx is done. live
// reports whether it delivered video.
func (p *rtspProducer) session(ctx context.Context, m *muxer) (live bool, err error) {
	c := &gortsplib.Client{
		Scheme:       p.u.Scheme,
		Host:         p.u.Host,
		Protocol:     &p.transport,
		ReadTimeout:  p.cfg.Timeout,
		WriteTimeout: p.cfg.Timeout,
		TLSConfig:    &tls.Config{ServerName: p.u.Hostname()},
		UserAgent:    "decoder/" + Version,
	}
	if err := c.Start(); err != nil {
		return false, err
	}
	defer c.Close()
	// Close is what interrupts a request in progress.
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, _, err := c.Describe(p.u)
	if err != nil {
		return false, describeError(err)
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
		return false, permanent(fmt.Errorf("the stream has no H.264 or H.265 video (it has %s); decoder plays H.264 and H.265", describeFormats(desc)))
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
		return false, fmt.Errorf("failed to set up video: %w", err)
	}
	if audioMedia != nil {
		if _, err := c.Setup(desc.BaseURL, audioMedia, 0, 0); err != nil {
			return false, fmt.Errorf("failed to set up audio: %w", err)
		}
	}

	m.reset(setup)
	var lastVideo atomic.Int64
	lastVideo.Store(time.Now().UnixNano())
	var gotVideo atomic.Bool
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
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
				return // more packets needed, or a loss: the muxer waits for a keyframe
			}
			lastVideo.Store(time.Now().UnixNano())
			gotVideo.Store(true)
			if err := m.writeVideo(fromClock(pts, videoTimescale), au); err != nil {
				fail(err)
			}
		}
	}
	if h264f != nil {
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return false, permanent(fmt.Errorf("unusable H.264 track: %w", err))
		}
		c.OnPacketRTP(videoMedia, h264f, onVideo(dec.Decode))
	} else {
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return false, permanent(fmt.Errorf("unusable H.265 track: %w", err))
		}
		c.OnPacketRTP(videoMedia, h265f, onVideo(dec.Decode))
	}
	if audioMedia != nil {
		dec, err := aacf.CreateDecoder()
		if err != nil {
			return false, permanent(fmt.Errorf("unusable AAC track: %w", err))
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
		return false, fmt.Errorf("failed to play: %w", err)
	}

	ended := make(chan error, 1)
	go func() { ended <- c.Wait() }() // ends when c is closed, at the latest by the deferred Close
	check := time.NewTicker(p.cfg.Timeout / 4)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return gotVideo.Load(), ctx.Err()
		case err := <-ended:
			return gotVideo.Load(), connectionError(err)
		case err := <-failed:
			return gotVideo.Load(), err
		case <-check.C:
			if silent := time.Since(time.Unix(0, lastVideo.Load())); silent > p.cfg.Timeout {
				return gotVideo.Load(), fmt.Errorf("stalled: no video for %v", silent.Round(time.Second))
			}
		}
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

// notRTSP says that the server does not speak RTSP at all.
var notRTSP = errors.New("the server did not answer in RTSP: check that the host and port are an RTSP camera's (RTSP usually listens on port 554)")

// requestError rewords the errors of a request that got no usable answer.
func requestError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "expected 'RTSP/1.0'") {
		return notRTSP
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
