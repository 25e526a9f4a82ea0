package main

import (
	"sync"
	"time"
)

// subscription is one viewer's membership of a stream.
type subscription struct {
	s        *stream
	cursor   cursor
	internal bool
	once     sync.Once
}

// subscribeOptions say how a viewer joins a stream.
type subscribeOptions struct {
	// startNext makes the viewer begin at the next start point instead of
	// the newest one already buffered.
	startNext bool
	// internal is a member that is not a viewer: an output reading its
	// source. It keeps the stream running but does not count against
	// the viewer limits or in the viewer figures.
	internal bool
}

// Subscribe adds a viewer to the source, starting its producer if needed.
func (h *Hub) Subscribe(src source, opts subscribeOptions) (*subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.viewers >= h.cfg.MaxViewers && !opts.internal {
		return nil, errTooManyViewers
	}
	s, err := h.join(src, opts.internal)
	if err != nil {
		return nil, err
	}
	if !opts.internal {
		h.viewers++
		h.metrics.viewers.Add(1)
		h.metrics.viewersTotal.Add(1)
	}
	return &subscription{s: s, cursor: cursor{startNext: opts.startNext}, internal: opts.internal}, nil
}

// Switch moves a viewer from sub to src's stream, starting its producer if
// needed; the viewer counts once throughout. sub is closed.
func (h *Hub) Switch(sub *subscription, src source) (*subscription, error) {
	h.mu.Lock()
	s, err := h.join(src, false)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sub.once.Do(func() { sub.leave(false) })
	return &subscription{s: s}, nil
}

// join adds a member to src's stream, starting it if needed. h.mu is held.
func (h *Hub) join(src source, internal bool) (*stream, error) {
	if h.closed {
		return nil, errShuttingDown
	}
	s := h.streams[src.key]
	if f, ok := h.failed[src.key]; ok && s == nil && time.Now().Before(f.until) {
		return nil, f.err
	}
	if s == nil {
		if len(h.streams) >= h.cfg.MaxSources {
			return nil, errTooManySources
		}
		s = h.start(src)
	} else if s.viewers-s.internal >= h.cfg.MaxViewersPerSource && !internal {
		return nil, errTooManyPerSrc
	}
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
	s.viewers++
	if internal {
		s.internal++
	}
	return s, nil
}

// read returns what the viewer is to send next; see ring.read.
func (sub *subscription) read(maxBacklog time.Duration) readResult {
	return sub.s.ring.read(&sub.cursor, maxBacklog)
}

// Close removes the viewer; the last one out starts the linger, or lets go
// of the buffer of a source that has ended. Idempotent.
func (sub *subscription) Close() {
	sub.once.Do(func() { sub.leave(!sub.internal) })
}

// leave takes the member out of its stream, and out of the viewer figures
// if viewer is set.
func (sub *subscription) leave(viewer bool) {
	s, h := sub.s, sub.s.hub
	h.mu.Lock()
	s.viewers--
	if sub.internal {
		s.internal--
	}
	if viewer {
		h.viewers--
		h.metrics.viewers.Add(-1)
	}
	last := s.viewers == 0
	release := last && s.ended
	if last && !s.ended && h.streams[s.key] == s {
		h.lingerOrStop(s)
	}
	h.mu.Unlock()
	if release {
		h.release(s)
	}
}

// lingerOrStop stops the producer of s, which has just lost its last viewer,
// after the linger. h.mu is held.
func (h *Hub) lingerOrStop(s *stream) {
	if h.cfg.Linger <= 0 {
		delete(h.streams, s.key)
		h.rebalance()
		s.cancel()
		return
	}
	s.lingerGen++
	gen := s.lingerGen
	s.linger = time.AfterFunc(h.cfg.Linger, func() { h.expire(s, gen) })
}

// expire stops s if its linger gen is still current and it has no viewers.
func (h *Hub) expire(s *stream, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.linger == nil || s.lingerGen != gen || s.viewers > 0 {
		return
	}
	s.linger = nil
	if h.streams[s.key] == s {
		delete(h.streams, s.key)
		h.rebalance()
	}
	s.cancel()
}
