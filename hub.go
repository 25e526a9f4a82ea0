package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Per-source buffer bounds: the most messages a source keeps for its
// viewers, and the smallest share of -buffer-budget that one source may
// keep (budget/bufferShares, 32 MiB by default), enough for a GOP of a
// high-bitrate camera and a few seconds of backlog. With more sources
// running, each keeps budget/sources, so that together they never keep
// more than the budget; a viewer further behind skips ahead.
const (
	sourceBufferMessages = 1024
	bufferShares         = 8
)

// Returning memory: once this much buffer has been let go since the last
// return, and that was at least returnMemoryEvery ago, the heap's free
// pages go back to the system at once rather than over minutes, so that a
// burst of large sources does not leave decoder's RSS high for long.
const (
	returnMemoryAfter = 64 << 20
	returnMemoryEvery = 10 * time.Second
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
	wg     sync.WaitGroup // the producers' goroutines and their senders

	mu      sync.Mutex
	streams map[string]*stream
	viewers int
	closed  bool

	metrics hubMetrics

	released     atomic.Int64 // buffer bytes let go since memory was last returned
	lastReturned atomic.Int64 // Unix ns

	// transcodes holds a token per running transcode (-max-transcodes),
	// and snapshots one per snapshot being decoded, apart, so that
	// posters never take a transcode's place; encoders picks the
	// transcodes' H.264 encoder.
	transcodes chan struct{}
	snapshots  chan struct{}
	encoders   *encoderChooser
	// failed holds, for a little while, why sources failed for good, so
	// that viewers and snapshots asking again hear it at once rather than
	// cost the camera another failed login. Guarded by mu.
	failed map[string]failure
	// idSalt makes stream ids that say nothing of the URLs they stand for.
	idSalt [16]byte
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
	h := &Hub{cfg: cfg, log: log, ctx: ctx, cancel: cancel, streams: make(map[string]*stream),
		transcodes: make(chan struct{}, max(cfg.MaxTranscodes, 1)),
		snapshots:  make(chan struct{}, max(cfg.MaxTranscodes, 1)),
		failed:     make(map[string]failure),
		encoders:   &encoderChooser{configured: cfg.TranscodeEncoder, log: log}}
	rand.Read(h.idSalt[:])
	return h
}

// acquireTranscode takes a -max-transcodes token, or reports that all are
// taken.
func (h *Hub) acquireTranscode() bool {
	select {
	case h.transcodes <- struct{}{}:
		return true
	default:
		return false
	}
}

// releaseTranscode gives back a token acquireTranscode took.
func (h *Hub) releaseTranscode() { <-h.transcodes }

// stream is one running source and its viewers.
type stream struct {
	hub *Hub
	src source
	// id names the stream in /streams and /snapshot?id= without its URL.
	id       string
	key      string
	display  string // URL with credentials masked
	producer Producer
	ring     *ring
	fan      *fanout
	feed     *Feed
	started  time.Time
	cancel   context.CancelFunc

	state atomic.Pointer[string]
	media atomic.Pointer[mediaInit]
	// Delivered to viewers, summed over them.
	bytes, messages, drops atomic.Uint64
	// reason says why the source is in its state, when it says; the tray
	// shows it for a camera in trouble.
	reason atomic.Pointer[string]

	// Guarded by hub.mu. lingerGen tells a linger timer that fires late,
	// after being stopped and replaced, that it is stale. ended is set
	// once the producer has returned.
	viewers   int
	internal  int // of viewers, the outputs reading this source
	linger    *time.Timer
	lingerGen uint64
	ended     bool
}

// start launches the producer of a new stream. h.mu is held.
func (h *Hub) start(src source) *stream {
	ctx, cancel := context.WithCancel(h.ctx)
	s := &stream{
		hub: h, src: src, id: h.streamID(src.key), key: src.key, display: src.display, producer: src.producer,
		ring:    newRing(sourceBufferMessages, h.sourceBufferBytes(len(h.streams)+1), h.cfg.MaxBacklog),
		started: time.Now(), cancel: cancel,
	}
	s.feed = &Feed{ring: s.ring, stream: s, log: h.log.With("source", s.display)}
	s.fan = newFanout(s.ring, h.cfg)
	h.streams[src.key] = s
	h.rebalance()
	h.wg.Add(1 + len(s.fan.senders))
	h.metrics.producers.Add(1)
	go s.run(ctx)
	s.fan.run(h.wg.Done)
	return s
}

// run is the producer's goroutine. It ends the ring with the reason viewers
// get: nothing more to say when stopped, 1000 when the source ended by
// itself, 1011 when it failed for good.
func (s *stream) run(ctx context.Context) {
	defer s.hub.wg.Done()
	defer s.hub.metrics.producers.Add(-1)
	feed, log := s.feed, s.feed.log
	log.Info("source starting")
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
	case errors.As(err, &end):
		// An output's source ended, or the output cannot be made: its
		// viewers hear it as it is.
		if end.code != closeGoingAway {
			feed.SetStatus(Status{State: stateEnded, Reason: end.reason})
		}
		log.Info("output ended", "reason", end.reason)
	default:
		reason := "source failed: " + err.Error()
		feed.SetStatus(Status{State: stateEnded, Reason: reason})
		end = &closeError{code: closeSourceFailed, reason: reason}
		log.Warn("source failed", "err", err)
	}
	s.ring.close(end)
	feed.taps.close(end)
	if end.code == closeSourceFailed {
		s.hub.rememberFailure(s.key, end)
	}
	s.hub.mu.Lock()
	s.ended = true
	idle := s.viewers == 0
	s.hub.mu.Unlock()
	if idle {
		s.hub.release(s)
	}
}

// failure is why a source failed for good, and until when it is said again
// rather than the source tried again.
type failure struct {
	err   *closeError
	until time.Time
}

// Remembering failures: for this long, and for this many sources at most.
const (
	failureMemory = 10 * time.Second
	failuresKept  = 256
)

// rememberFailure keeps end as the answer for key for failureMemory.
func (h *Hub) rememberFailure(key string, end *closeError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	for k, f := range h.failed {
		if now.After(f.until) || len(h.failed) >= failuresKept {
			delete(h.failed, k)
		}
	}
	h.failed[key] = failure{err: end, until: now.Add(failureMemory)}
}

// sourceBufferBytes is what each of n running sources may keep.
func (h *Hub) sourceBufferBytes(n int) int {
	return int(h.cfg.BufferBudget / int64(max(n, bufferShares)))
}

// rebalance gives every running source its share of the buffer budget;
// each trims to it on its next publish. h.mu is held.
func (h *Hub) rebalance() {
	limit := h.sourceBufferBytes(len(h.streams))
	for _, s := range h.streams {
		s.ring.setMaxBytes(limit)
	}
}

// release lets go of the buffer of a stream whose producer has ended and
// that no viewer reads any more, and returns memory to the system after
// large releases.
func (h *Hub) release(s *stream) {
	n := h.released.Add(int64(s.ring.drop()))
	last := h.lastReturned.Load()
	if n < returnMemoryAfter || time.Since(time.Unix(0, last)) < returnMemoryEvery {
		return
	}
	if h.lastReturned.CompareAndSwap(last, time.Now().UnixNano()) {
		h.released.Store(0)
		debug.FreeOSMemory()
	}
}

// forget removes s from the hub so that new viewers start a new producer.
func (h *Hub) forget(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams[s.key] == s {
		delete(h.streams, s.key)
		h.rebalance()
	}
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
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
