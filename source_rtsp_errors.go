package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// What goes wrong with a camera, in words a user can act on and without
// its credentials.

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
