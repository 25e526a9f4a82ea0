package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// permanentError is a failure that waiting does not mend, such as wrong
// credentials or a codec decoder cannot play: a source that has never
// played gives up at once rather than keep its viewers waiting.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// connectFunc runs one connection to a source until it fails, and reports
// whether it delivered media.
type connectFunc func(ctx context.Context) (live bool, err error)

// runWithRetries runs connect again and again until ctx is done. Between
// attempts viewers get a reconnecting status with the reason, the attempt
// and the wait, which doubles from cfg.RetryMin up to cfg.RetryMax with
// jitter, so that cameras that rebooted together are not all called back at
// once; a connection that delivered media starts the count again. The
// first attempt is retried like any other: a camera still booting is not
// an error. It gives up when cfg.Retries retries in a row have failed (if
// set), or at once on a permanent failure of a source that never played.
func runWithRetries(ctx context.Context, feed *Feed, cfg SourceConfig, connect connectFunc) error {
	failures := 0
	everLive := false
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		live, err := connect(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = errors.New("the source closed the stream")
		}
		if live {
			everLive, failures = true, 0
		}
		failures++
		var perm *permanentError
		if errors.As(err, &perm) && !everLive {
			return err
		}
		if cfg.Retries > 0 && failures > cfg.Retries {
			return fmt.Errorf("gave up after %d failed attempts: %w", failures, err)
		}
		delay := retryDelay(cfg, failures)
		feed.SetStatus(Status{State: stateReconnecting, Reason: err.Error(), Attempt: failures, RetryInMS: delay.Milliseconds()})
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// retryDelay is the wait before attempt failures+1: RetryMin doubled per
// failure, capped at RetryMax, then spread by ±25 %.
func retryDelay(cfg SourceConfig, failures int) time.Duration {
	d := cfg.RetryMin
	for i := 1; i < failures && d < cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, cfg.RetryMax)
	jittered := time.Duration(float64(d) * (0.75 + rand.Float64()/2))
	return min(jittered, cfg.RetryMax)
}
