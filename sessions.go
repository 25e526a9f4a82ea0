package main

import (
	"context"
	"fmt"
	"sync"
)

// sessions tracks the running viewer sessions so that shutdown can tell
// them to go (1001) and wait for them: http.Server.Shutdown does not wait
// for hijacked connections.
type sessions struct {
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{}
}

func newSessions() *sessions {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &sessions{ctx: ctx, cancel: cancel}
}

// enter registers a session; it fails once shutdown has begun.
func (s *sessions) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.n++
	return true
}

func (s *sessions) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.n == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// shutdown tells every session to close with 1001 and waits for them until
// ctx is done.
func (s *sessions) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	var idle chan struct{}
	if s.n > 0 {
		idle = make(chan struct{})
		s.idle = idle
	}
	s.mu.Unlock()
	s.cancel(errShuttingDown)
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failed to close all viewers: %w", ctx.Err())
	}
}

// netConnKey finds the accepted connection in a request's context; the
// session sets its socket options and deadlines on it.
type netConnKey struct{}
