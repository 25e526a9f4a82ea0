package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
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
type newProducerFunc func(src *url.URL) (Producer, error)

// producerSchemes picks a producer by the source URL's scheme. A new kind of
// source is one file with its producer and one line here.
var producerSchemes = map[string]newProducerFunc{
	"demo-text": newDemoTextProducer,
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

// Feed is where a producer publishes. It is used by the producer's goroutine
// only and never blocks: viewers that cannot keep up drop, not the producer.
type Feed struct {
	ring    *ring
	onState func(state string)
}

// Publish hands m to every viewer of the source.
func (f *Feed) Publish(m Message) { f.ring.publish(m) }

// SetStatus tells every viewer, and viewers joining later, what the source
// is doing.
func (f *Feed) SetStatus(s Status) {
	data, _ := json.Marshal(struct {
		Type string `json:"type"`
		Status
	}{"status", s})
	f.onState(s.State)
	f.ring.setStatus(data)
}

// badSource is a problem with the url parameter, closed with code after an
// error message the page can show.
func badSource(code int, message string) error {
	return &closeError{code: code, reason: message, notify: true}
}

// parseSource checks the url parameter of /live and returns the source URL,
// its producer and the key under which viewers of the same source share it.
// Error messages never repeat the URL, which may hold credentials.
func parseSource(raw string) (src *url.URL, key string, p Producer, err error) {
	const example = "use /live?url=rtsp://camera/stream or /live?url=demo-text://"
	if raw == "" {
		return nil, "", nil, badSource(closeBadRequest, "missing url parameter: "+example)
	}
	src, err = url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", nil, badSource(closeBadRequest, fmt.Sprintf("url parameter is not a valid URL (%v): %s", err, example))
	}
	if src.Scheme == "" || src.Opaque != "" {
		return nil, "", nil, badSource(closeBadRequest, "url parameter must be an absolute URL such as rtsp://camera/stream")
	}
	src.Scheme = strings.ToLower(src.Scheme)
	newProducer, ok := producerSchemes[src.Scheme]
	if !ok {
		return nil, "", nil, badSource(closeUnsupportedScheme, fmt.Sprintf("unsupported source scheme %q; decoder plays %s", src.Scheme, supportedSchemes()))
	}
	src.Host = strings.ToLower(src.Host)
	src.Fragment, src.RawFragment = "", ""
	src.RawQuery = src.Query().Encode()
	p, err = newProducer(src)
	if err != nil {
		return nil, "", nil, badSource(closeBadRequest, "invalid "+src.Scheme+" source: "+err.Error())
	}
	return src, formatURL(src), p, nil
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
