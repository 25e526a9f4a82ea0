package main

import (
	"runtime"
	"sync"
	"time"
)

// fanout sends a stream to its viewers from a few goroutines, its senders,
// one per core (GOMAXPROCS) at most, each with a share of the viewers:
// after each publish a sender goes through its viewers in turn and writes
// each what it has waiting, without waiting for any
// (frameWriter.tryWrite). A thousand viewers cost a thousand writes per
// message, and little more: no goroutine woken per viewer, no channel, no
// timer. A viewer whose socket takes less than it is sent leaves for a
// goroutine of its own until it has caught up (viewer.catchUp), so that
// no viewer waits for another.
type fanout struct {
	senders []*sender
}

// maxSenders bounds a stream's senders, whatever the number of cores.
const maxSenders = 16

func newFanout(r *ring, cfg LiveConfig) *fanout {
	f := &fanout{senders: make([]*sender, min(runtime.GOMAXPROCS(0), maxSenders))}
	tick := min(cfg.PingInterval, cfg.StatsInterval) / 4
	tick = max(minSenderTick, min(tick, maxSenderTick))
	for i := range f.senders {
		f.senders[i] = &sender{ring: r, tick: tick, kicks: make(chan struct{}, 1)}
	}
	return f
}

// run starts the senders; done is called as each ends.
func (f *fanout) run(done func()) {
	for _, s := range f.senders {
		go s.run(done)
	}
}

// add makes v a member of the sender with the fewest, and returns it; nil
// once the stream has ended.
func (f *fanout) add(v *viewer) *sender {
	for {
		var least *sender
		fewest := -1
		for _, s := range f.senders {
			if n := s.members(); n >= 0 && (fewest < 0 || n < fewest) {
				least, fewest = s, n
			}
		}
		if least == nil {
			return nil
		}
		if least.add(v) {
			return least
		}
	}
}

// sender is one of a fan-out's goroutines and its viewers. It also sends
// pings and stats as they fall due, looking at every viewer at least every
// tick. It ends once the stream's ring has ended and its last member has
// left; add refuses members from then on.
type sender struct {
	ring  *ring
	tick  time.Duration
	kicks chan struct{}

	mu      sync.Mutex
	viewers []*viewer
	ended   bool

	// scratch is the sender's copy of viewers for one pass.
	scratch []*viewer
}

// Bounds on a sender's tick, a quarter of the shorter of the ping and
// stats intervals: often enough that both are on time where the stream
// publishes seldom, and no more.
const (
	minSenderTick = 10 * time.Millisecond
	maxSenderTick = 250 * time.Millisecond
)

// members is the number of members, -1 once the sender has ended.
func (s *sender) members() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return -1
	}
	return len(s.viewers)
}

// add makes v a member, unless the sender has ended.
func (s *sender) add(v *viewer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	v.fanIndex = len(s.viewers)
	s.viewers = append(s.viewers, v)
	return true
}

// remove takes v out; the sender may end once the last member is out.
func (s *sender) remove(v *viewer) {
	s.mu.Lock()
	last := len(s.viewers) - 1
	moved := s.viewers[last]
	s.viewers[v.fanIndex], moved.fanIndex = moved, v.fanIndex
	s.viewers[last] = nil
	s.viewers = s.viewers[:last]
	s.mu.Unlock()
	s.kick()
}

// kick makes the sender go through its viewers again soon.
func (s *sender) kick() {
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

// run is the sender's goroutine. done is called when it ends.
func (s *sender) run(done func()) {
	defer done()
	ticker := time.NewTicker(s.tick)
	defer ticker.Stop()
	for {
		// Taken before the pass, so that a publish during it is not missed.
		wake, ended := s.ring.waiter()
		s.pass(time.Now())
		if ended {
			s.mu.Lock()
			empty := len(s.viewers) == 0
			s.ended = empty
			s.mu.Unlock()
			if empty {
				return
			}
			wake = nil // closed for good
		}
		select {
		case <-wake:
		case <-s.kicks:
		case <-ticker.C:
		}
	}
}

// pass sends every member what it has waiting.
func (s *sender) pass(now time.Time) {
	s.mu.Lock()
	s.scratch = append(s.scratch[:0], s.viewers...)
	s.mu.Unlock()
	for _, v := range s.scratch {
		v.serveNow(now)
	}
	clear(s.scratch)
}
