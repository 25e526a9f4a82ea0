package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Producer turns one source into messages for all its viewers.
//
// Run publishes into feed until ctx is done or the source fails for good. It
// returns ctx's error (or nil) when stopped, nil when the source ended by
// itself, and any other error when it failed: that error's text reaches the
// viewers, so it must say what went wrong in words a user can act on and
// must not contain credentials.
type Producer interface {
	Run(ctx context.Context, feed *Feed) error
}

// newProducerFunc checks a source URL and returns its producer. Its error is
// shown to the user: it says which part of the URL is wrong and why.
type newProducerFunc func(src *url.URL, opts sourceOptions) (Producer, error)

// sourceOptions is what a producer is given besides its URL.
type sourceOptions struct {
	cfg SourceConfig
	// transport is how an RTSP source carries media: "tcp" or "udp".
	transport string
}

// producerSchemes picks a producer by the source URL's scheme. A new kind of
// source is one file with its producer and one line here.
var producerSchemes = map[string]newProducerFunc{
	"demo":      newDemoProducer,
	"demo-text": newDemoTextProducer,
	"file":      newFileProducer,
	"rtsp":      newRTSPProducer,
	"rtsps":     newRTSPProducer,
}

// supportedSchemes lists producerSchemes for error messages.
func supportedSchemes() string {
	names := make([]string, 0, len(producerSchemes))
	for name := range producerSchemes {
		names = append(names, name+"://")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Status is what a source is doing, as viewers see it in status messages.
type Status struct {
	// State is one of connecting, live, reconnecting, ended.
	State string `json:"state"`
	// Reason says why, for reconnecting and ended.
	Reason string `json:"reason,omitempty"`
	// Attempt and RetryInMS describe the next reconnection attempt.
	Attempt   int   `json:"attempt,omitempty"`
	RetryInMS int64 `json:"retry_in_ms,omitempty"`
}

// Source states.
const (
	stateConnecting   = "connecting"
	stateLive         = "live"
	stateReconnecting = "reconnecting"
	stateEnded        = "ended"
)

// Feed is where a producer publishes. Its methods are safe for concurrent
// use and never block: viewers that cannot keep up drop, not the producer.
type Feed struct {
	ring   *ring
	stream *stream
	// log is the source's logger, for what the producer notices on the way
	// (such as packet loss) that viewers do not need to hear about.
	log *slog.Logger

	mu     sync.Mutex
	status Status
}

// Publish hands m to every viewer of the source.
func (f *Feed) Publish(m Message) { f.ring.publish(m) }

// SetStatus tells every viewer, and viewers joining later, what the source
// is doing; the same status twice is said once.
func (f *Feed) SetStatus(s Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == f.status {
		return
	}
	f.status = s
	data, _ := json.Marshal(struct {
		Type string `json:"type"`
		Status
	}{"status", s})
	f.stream.state.Store(&s.State)
	f.ring.setStatus(data)
}

// SetInit makes init the media init of what is published next, which must
// be a start point (a keyframe).
func (f *Feed) SetInit(init *mediaInit) {
	f.stream.media.Store(init)
	f.ring.setInit(init)
}

// badSource is a problem with the url parameter, closed with code after an
// error message the page can show.
func badSource(code int, message string) error {
	return &closeError{code: code, reason: message, notify: true}
}

// source is a checked request for a source.
type source struct {
	// key is what viewers of the same source share it under: the
	// normalised URL and the options that change what is pulled.
	key string
	// display is key with credentials masked, for logs and /streams.
	display  string
	producer Producer
}

// parseSource checks the url and transport parameters of /live and returns
// the source. Error messages never repeat the URL, which may hold
// credentials.
func parseSource(q url.Values, cfg SourceConfig) (source, error) {
	const example = "use /live?url=rtsp://camera/stream or /live?url=demo://"
	raw := q.Get("url")
	if raw == "" {
		return source{}, badSource(closeBadRequest, "missing url parameter: "+example)
	}
	src, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return source{}, badSource(closeBadRequest, fmt.Sprintf("url parameter is not a valid URL (%v): %s", err, example))
	}
	if src.Scheme == "" || src.Opaque != "" {
		return source{}, badSource(closeBadRequest, "url parameter must be an absolute URL such as rtsp://camera/stream")
	}
	src.Scheme = strings.ToLower(src.Scheme)
	newProducer, ok := producerSchemes[src.Scheme]
	if !ok {
		return source{}, badSource(closeUnsupportedScheme, fmt.Sprintf("unsupported source scheme %q; decoder plays %s", src.Scheme, supportedSchemes()))
	}
	src.Host = strings.ToLower(src.Host)
	src.Fragment, src.RawFragment = "", ""
	src.RawQuery = src.Query().Encode()
	opts := sourceOptions{cfg: cfg, transport: q.Get("transport")}
	isRTSP := src.Scheme == "rtsp" || src.Scheme == "rtsps"
	switch {
	case opts.transport == "" && isRTSP:
		opts.transport = "tcp"
	case opts.transport != "" && !isRTSP:
		return source{}, badSource(closeBadRequest, "the transport parameter applies to rtsp:// sources only")
	case isRTSP && opts.transport != "tcp" && opts.transport != "udp":
		return source{}, badSource(closeBadRequest, fmt.Sprintf("transport must be tcp or udp, got %q", opts.transport))
	}
	p, err := newProducer(src, opts)
	if err != nil {
		return source{}, badSource(closeBadRequest, "invalid "+src.Scheme+" source: "+err.Error())
	}
	s := source{key: formatURL(src), display: maskURL(src), producer: p}
	if opts.transport == "udp" {
		s.key += " (udp)"
		s.display += " (udp)"
	}
	return s, nil
}

// formatURL is u.String that keeps "//" before an empty host, so that
// demo-text://?interval=1s reads as typed rather than demo-text:?interval=1s.
func formatURL(u *url.URL) string {
	s := u.String()
	if u.Host == "" && u.User == nil && !strings.HasPrefix(s, u.Scheme+"://") {
		s = u.Scheme + "://" + strings.TrimPrefix(s, u.Scheme+":")
	}
	return s
}

// secretQueryKey matches query parameters that cameras use for credentials.
var secretQueryKey = regexp.MustCompile(`(?i)pass|pwd|token|secret|key|auth|sig|user`)

// maskURL returns u as it may be logged or shown: user and password replaced
// by ***, and so are query parameters that look like credentials.
func maskURL(u *url.URL) string {
	m := *u
	if m.User != nil {
		m.User = url.User("***")
	}
	if m.RawQuery != "" {
		q := m.Query()
		for k := range q {
			if secretQueryKey.MatchString(k) {
				q[k] = []string{"***"}
			}
		}
		m.RawQuery = strings.ReplaceAll(q.Encode(), "%2A%2A%2A", "***")
	}
	return formatURL(&m)
}
