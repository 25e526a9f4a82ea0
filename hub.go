package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Per-source buffer bounds: the most messages and bytes a source keeps for
// its viewers. They cover a GOP of a high-bitrate camera and a few seconds
// of backlog; a viewer further behind skips ahead.
const (
	sourceBufferMessages = 1024
	sourceBufferBytes    = 32 << 20
)

// Hub runs the shared producers: all viewers of one source (same normalised
// URL) read from one producer, started by the first viewer and stopped
// Linger after the last one leaves.
//
// All methods are safe for concurrent use. Close stops every producer and
// waits for them.
type Hub struct {
	cfg LiveConfig
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per producer goroutine

	mu      sync.Mutex
	streams map[string]*stream
	viewers int
	closed  bool

	metrics hubMetrics
}

// hubMetrics are the service-wide counters behind /metrics.
type hubMetrics struct {
	viewers         atomic.Int64
	producers       atomic.Int64
	viewersTotal    atomic.Uint64
	bytesSent       atomic.Uint64
	messagesSent    atomic.Uint64
	droppedMessages atomic.Uint64
	slowClosed      atomic.Uint64

	closesMu sync.Mutex
	closes   map[int]uint64 // by close code
}

func (m *hubMetrics) countClose(code int) {
	m.closesMu.Lock()
	if m.closes == nil {
		m.closes = make(map[int]uint64)
	}
	m.closes[code]++
	m.closesMu.Unlock()
}

// NewHub returns a hub with no producers running.
func NewHub(cfg LiveConfig, log *slog.Logger) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, log: log, ctx: ctx, cancel: cancel, streams: make(map[string]*stream)}
}

// stream is one running source and its viewers.
type stream struct {
	hub      *Hub
	key      string
	display  string // URL with credentials masked
	producer Producer
	ring     *ring
	started  time.Time
	cancel   context.CancelFunc

	state atomic.Pointer[string]
	media atomic.Pointer[mediaInit]
	// Delivered to viewers, summed over them.
	bytes, messages, drops atomic.Uint64

	// Guarded by hub.mu. lingerGen tells a linger timer that fires late,
	// after being stopped and replaced, that it is stale.
	viewers   int
	linger    *time.Timer
	lingerGen uint64
}

// Errors of Subscribe, each with the close code a viewer gets.
var (
	errTooManyViewers = &closeError{code: closeTooMany, reason: "too many viewers"}
	errTooManySources = &closeError{code: closeTooMany, reason: "too many sources"}
	errShuttingDown   = &closeError{code: closeGoingAway, reason: "server shutting down"}
)

// subscription is one viewer's membership of a stream.
type subscription struct {
	s      *stream
	cursor cursor
	once   sync.Once
}

// Subscribe adds a viewer to the source, starting its producer if needed.
// startNext makes the viewer begin at the next start point instead of the
// newest one already buffered.
func (h *Hub) Subscribe(src source, startNext bool) (*subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errShuttingDown
	}
	if h.viewers >= h.cfg.MaxViewers {
		return nil, errTooManyViewers
	}
	s := h.streams[src.key]
	if s == nil {
		if len(h.streams) >= h.cfg.MaxSources {
			return nil, errTooManySources
		}
		s = h.start(src)
	} else if s.viewers >= h.cfg.MaxViewersPerSource {
		return nil, &closeError{code: closeTooMany, reason: "too many viewers of this source"}
	}
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
	s.viewers++
	h.viewers++
	h.metrics.viewers.Add(1)
	h.metrics.viewersTotal.Add(1)
	return &subscription{s: s, cursor: cursor{startNext: startNext}}, nil
}

// start launches the producer of a new stream. h.mu is held.
func (h *Hub) start(src source) *stream {
	ctx, cancel := context.WithCancel(h.ctx)
	s := &stream{
		hub: h, key: src.key, display: src.display, producer: src.producer,
		ring:    newRing(sourceBufferMessages, sourceBufferBytes, h.cfg.MaxBacklog),
		started: time.Now(), cancel: cancel,
	}
	h.streams[src.key] = s
	h.wg.Add(1)
	h.metrics.producers.Add(1)
	go s.run(ctx)
	return s
}

// run is the producer's goroutine. It ends the ring with the reason viewers
// get: nothing more to say when stopped, 1000 when the source ended by
// itself, 1011 when it failed for good.
func (s *stream) run(ctx context.Context) {
	defer s.hub.wg.Done()
	defer s.hub.metrics.producers.Add(-1)
	log := s.hub.log.With("source", s.display)
	log.Info("source starting")
	feed := &Feed{ring: s.ring, stream: s, log: log}
	feed.SetStatus(Status{State: stateConnecting})
	err := s.producer.Run(ctx, feed)
	s.hub.forget(s)
	var end *closeError
	switch {
	case ctx.Err() != nil:
		end = errSourceStopped
		log.Info("source stopped")
	case err == nil:
		feed.SetStatus(Status{State: stateEnded, Reason: "source ended"})
		end = &closeError{code: closeNormal, reason: "source ended"}
		log.Info("source ended")
	default:
		reason := "source failed: " + err.Error()
		feed.SetStatus(Status{State: stateEnded, Reason: reason})
		end = &closeError{code: closeSourceFailed, reason: reason, notify: true}
		log.Warn("source failed", "err", err)
	}
	s.ring.close(end)
}

// errSourceStopped ends a ring whose producer was stopped by decoder: by then
// it has no viewers, or they are being closed for shutdown.
var errSourceStopped = &closeError{code: closeGoingAway, reason: "source stopped"}

// forget removes s from the hub so that new viewers start a new producer.
func (h *Hub) forget(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams[s.key] == s {
		delete(h.streams, s.key)
	}
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
}

// read returns what the viewer is to send next; see ring.read.
func (sub *subscription) read(maxBacklog time.Duration) readResult {
	return sub.s.ring.read(&sub.cursor, maxBacklog)
}

// Close removes the viewer; the last one out starts the linger. Idempotent.
func (sub *subscription) Close() {
	sub.once.Do(func() {
		s, h := sub.s, sub.s.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		s.viewers--
		h.viewers--
		h.metrics.viewers.Add(-1)
		if s.viewers > 0 || h.streams[s.key] != s {
			return
		}
		if h.cfg.Linger <= 0 {
			delete(h.streams, s.key)
			s.cancel()
			return
		}
		s.lingerGen++
		gen := s.lingerGen
		s.linger = time.AfterFunc(h.cfg.Linger, func() { h.expire(s, gen) })
	})
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
	}
	s.cancel()
}

// Close stops every producer and waits for them until ctx is done.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	for _, s := range h.streams {
		if s.linger != nil {
			s.linger.Stop()
			s.linger = nil
		}
	}
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failed to stop sources: %w", errors.Join(ctx.Err(), errors.New("some producers did not stop")))
	}
}

// streamInfo is one entry of GET /streams.
type streamInfo struct {
	URL           string  `json:"url"`
	State         string  `json:"state"`
	Viewers       int     `json:"viewers"`
	Bytes         uint64  `json:"bytes"`
	Messages      uint64  `json:"messages"`
	Drops         uint64  `json:"drops"`
	BufferedMsgs  int     `json:"buffered_messages"`
	BufferedBytes int     `json:"buffered_bytes"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	StartedAt     string  `json:"started_at"`
	Lingering     bool    `json:"lingering"`
	// Media is the init message viewers get: codecs, MIME type, size.
	Media json.RawMessage `json:"media,omitempty"`
}

// Streams lists the running sources, credentials masked, oldest first.
func (h *Hub) Streams() []streamInfo {
	h.mu.Lock()
	list := make([]streamInfo, 0, len(h.streams))
	for _, s := range h.streams {
		state := stateConnecting
		if p := s.state.Load(); p != nil {
			state = *p
		}
		list = append(list, streamInfo{
			URL: s.display, State: state, Viewers: s.viewers,
			Bytes: s.bytes.Load(), Messages: s.messages.Load(), Drops: s.drops.Load(),
			UptimeSeconds: time.Since(s.started).Round(time.Millisecond).Seconds(),
			StartedAt:     s.started.UTC().Format(time.RFC3339),
			Lingering:     s.linger != nil,
		})
		list[len(list)-1].BufferedMsgs, list[len(list)-1].BufferedBytes = s.ring.size()
		if init := s.media.Load(); init != nil {
			list[len(list)-1].Media = init.info
		}
	}
	h.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].UptimeSeconds > list[j].UptimeSeconds })
	return list
}
