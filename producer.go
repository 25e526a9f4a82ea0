package main

import (
	"context"
	"log/slog"
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
	taps   taps
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
	f.stream.state.Store(&s.State)
	f.stream.reason.Store(&s.Reason)
	f.ring.setStatus(statusMessage(s))
	f.taps.send(tapUnit{status: &s})
}

// SetInit makes init the media init of what is published next, which must
// be a start point (a keyframe).
func (f *Feed) SetInit(init *mediaInit) {
	f.stream.media.Store(init)
	f.ring.setInit(init)
}
