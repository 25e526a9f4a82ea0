package main

import (
	"sync"
	"sync/atomic"
)

// tapQueue bounds what a tap holds: a few seconds of frames and audio. A tap
// that falls further behind loses units and must start again at a keyframe.
const tapQueue = 512

// tap receives a source's frames themselves, on the source's output
// timeline, and its statuses: it is how a converter (a transcode, an audio
// conversion) reads what decoder already pulled, without opening the
// camera a second time. Sending never blocks the source; a tap that is
// full loses units and is told so by lost.
type tap struct {
	units chan tapUnit
	lost  atomic.Bool
	// end is why the source ended, set before units is closed.
	end error
}

// tapUnit is one thing a tap receives: exactly one field is set.
type tapUnit struct {
	video  *videoUnit
	audio  *audioUnit
	status *Status
}

// taps are the taps of one Feed.
type taps struct {
	mu     sync.Mutex
	list   []*tap
	n      atomic.Int32
	closed error
}

// add registers a new tap, which gets status first.
func (ts *taps) add(status Status) *tap {
	t := &tap{units: make(chan tapUnit, tapQueue)}
	t.units <- tapUnit{status: &status}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed != nil {
		t.end = ts.closed
		close(t.units)
		return t
	}
	ts.list = append(ts.list, t)
	ts.n.Add(1)
	return t
}

// remove unregisters t; what it holds is dropped.
func (ts *taps) remove(t *tap) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i, x := range ts.list {
		if x == t {
			ts.list = append(ts.list[:i], ts.list[i+1:]...)
			ts.n.Add(-1)
			return
		}
	}
}

// send hands u to every tap, without waiting for any.
func (ts *taps) send(u tapUnit) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.list {
		select {
		case t.units <- u:
		default:
			t.lost.Store(true)
		}
	}
}

// close ends every tap with end: the source has stopped.
func (ts *taps) close(end error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = end
	for _, t := range ts.list {
		t.end = end
		close(t.units)
	}
	ts.list = nil
	ts.n.Store(0)
}

func (f *Feed) tapping() bool        { return f.taps.n.Load() > 0 }
func (f *Feed) tapVideo(u videoUnit) { f.taps.send(tapUnit{video: &u}) }
func (f *Feed) tapAudio(u audioUnit) { f.taps.send(tapUnit{audio: &u}) }

// tap starts a tap on the feed's source.
func (f *Feed) tap() *tap {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.taps.add(f.status)
}
