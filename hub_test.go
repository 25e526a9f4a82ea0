package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

// bigFrames publishes a keyframe and then 1 MiB frames that depend on it,
// as fast as it may: a camera of huge frames, whose buffer only the byte
// bounds limit.
type bigFrames struct{}

func (bigFrames) Run(ctx context.Context, feed *Feed) error {
	feed.SetStatus(Status{State: stateLive})
	frame := make([]byte, 1<<20)
	for i := 0; ; i++ {
		feed.Publish(Message{Data: frame, Binary: true, Start: i == 0})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Millisecond):
		}
	}
}

// TestHubBufferBudget: however many sources of huge frames run, together
// they keep no more than -buffer-budget, each at most an eighth of it, and
// a source that has stopped keeps nothing.
func TestHubBufferBudget(t *testing.T) {
	cfg := testLiveConfig()
	cfg.BufferBudget = 64 << 20
	cfg.Linger = 0
	h := NewHub(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer h.Close(context.Background())

	total := func() (sum, largest int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, s := range h.streams {
			_, b := s.ring.size()
			sum, largest = sum+b, max(largest, b)
		}
		return sum, largest
	}
	var subs []*subscription
	for _, n := range []int{1, 4, 16} {
		for len(subs) < n {
			sub, err := h.Subscribe(source{key: fmt.Sprint(len(subs)), display: "big", producer: bigFrames{}}, subscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
		// Long enough for every source to publish far past its share.
		time.Sleep(300 * time.Millisecond)
		sum, largest := total()
		share := int(cfg.BufferBudget) / max(n, bufferShares)
		t.Logf("%d sources keep %d MiB, the largest %d MiB", n, sum>>20, largest>>20)
		// One frame over the share: a frame is published before the
		// oldest is let go.
		if largest > share+1<<20 || sum > int(cfg.BufferBudget)+n<<20 {
			t.Errorf("%d sources keep %d bytes, the largest %d; want at most %d each and %d in all", n, sum, largest, share, cfg.BufferBudget)
		}
	}
	s := subs[0].s
	for _, sub := range subs {
		sub.Close()
	}
	waitFor(t, 5*time.Second, "the sources to stop", func() bool { return h.metrics.producers.Load() == 0 })
	waitFor(t, 5*time.Second, "a stopped source's buffer to be let go", func() bool {
		_, b := s.ring.size()
		return b == 0
	})
}
