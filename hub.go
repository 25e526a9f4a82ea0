package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
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
	wg     sync.WaitGroup // one per producer goroutine

	mu      sync.Mutex
	streams map[string]*stream
	viewers int
	closed  bool

	metrics hubMetrics

	released     atomic.Int64 // buffer bytes let go since memory was last returned
	lastReturned atomic.Int64 // Unix ns
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
	// reason says why the source is in its state, when it says; the tray
	// shows it for a camera in trouble.
	reason atomic.Pointer[string]

	// Guarded by hub.mu. lingerGen tells a linger timer that fires late,
	// after being stopped and replaced, that it is stale. ended is set
	// once the producer has returned.
	viewers   int
	linger    *time.Timer
	lingerGen uint64
	ended     bool
}

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
		return nil, errTooManyPerSrc
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
		ring:    newRing(sourceBufferMessages, h.sourceBufferBytes(len(h.streams)+1), h.cfg.MaxBacklog),
		started: time.Now(), cancel: cancel,
	}
	h.streams[src.key] = s
	h.rebalance()
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
		end = &closeError{code: closeSourceFailed, reason: reason}
		log.Warn("source failed", "err", err)
	}
	s.ring.close(end)
	s.hub.mu.Lock()
	s.ended = true
	idle := s.viewers == 0
	s.hub.mu.Unlock()
	if idle {
		s.hub.release(s)
	}
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

// read returns what the viewer is to send next; see ring.read.
func (sub *subscription) read(maxBacklog time.Duration) readResult {
	return sub.s.ring.read(&sub.cursor, maxBacklog)
}

// Close removes the viewer; the last one out starts the linger, or lets go
// of the buffer of a source that has ended. Idempotent.
func (sub *subscription) Close() {
	sub.once.Do(func() {
		s, h := sub.s, sub.s.hub
		h.mu.Lock()
		s.viewers--
		h.viewers--
		h.metrics.viewers.Add(-1)
		last := s.viewers == 0
		release := last && s.ended
		if last && !s.ended && h.streams[s.key] == s {
			h.lingerOrStop(s)
		}
		h.mu.Unlock()
		if release {
			h.release(s)
		}
	})
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
