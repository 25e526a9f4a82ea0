package main

import (
	"sync"
	"time"
)

// Message is one WebSocket message a producer publishes. Its Data is shared
// by every viewer and must not be changed after Publish.
type Message struct {
	Data   []byte
	Binary bool
	// Start marks a place where a viewer may begin or resume and still get a
	// usable stream: every message of a text source, a keyframe of video.
	Start bool
}

// frame is an immutable message shared by the entries it applies to, such as
// a source's status; viewers compare pointers to know whether they have it.
type frame struct {
	data []byte
}

// mediaInit is what a viewer needs before a media source's fragments: the
// init message (codecs, MIME type, size) and the init segment (ftyp+moov).
// video and audio describe the source's tracks, audio whether or not the
// init carries it, for deciding what a viewer's browser can play.
type mediaInit struct {
	info    []byte
	segment []byte
	video   videoInfo
	audio   *audioSetup
}

// entry is a published message with what a viewer needs to use it.
type entry struct {
	Message
	at time.Time
	// status is the source's status when the message was published; a viewer
	// sends it before the message unless it already has.
	status *frame
	// init is the media init the message belongs to, nil for sources that
	// are not media; a viewer sends it before the message unless it already
	// has.
	init *mediaInit
	// isStatus marks the entry that announces status itself.
	isStatus bool
}

// ring is a source's recent messages, shared by all its viewers: each viewer
// keeps only a cursor into it, so the memory of a backlog is paid once per
// source, not once per viewer, and the producer never waits for anyone.
//
// It keeps at most len(buf) entries and about maxBytes of data, evicting the
// oldest, and nothing older than maxAge before the newest start point: a
// viewer that far behind skips to that start point anyway, so keeping more
// would cost memory per source and help no one. The entries since the
// newest start point are also what a viewer joining late begins with, so it
// gets a usable stream at once.
//
// One goroutine publishes; any number read. Readers wait on wake, a channel
// that publish closes and replaces, so a publish is O(1) whatever the number
// of viewers.
type ring struct {
	// mu is held for writing by the publisher and for reading by viewers,
	// which all read after each publish and do not wait for each other.
	mu        sync.RWMutex
	buf       []entry
	head      uint64 // sequence number of the next entry
	tail      uint64 // sequence number of the oldest kept entry
	bytes     int
	maxBytes  int
	maxAge    time.Duration
	lastStart uint64 // newest start point, valid when hasStart
	hasStart  bool
	status    *frame
	init      *mediaInit
	wake      chan struct{}
	// end is why the source stopped; readers get it once they have read
	// everything published before.
	end error
}

// newRing returns a ring of capacity entries, rounded up to a power of two.
func newRing(capacity, maxBytes int, maxAge time.Duration) *ring {
	n := 1
	for n < capacity {
		n <<= 1
	}
	return &ring{buf: make([]entry, n), maxBytes: maxBytes, maxAge: maxAge, wake: make(chan struct{})}
}

func (r *ring) slot(seq uint64) *entry { return &r.buf[seq&uint64(len(r.buf)-1)] }

// publish appends m and wakes the waiting readers.
func (r *ring) publish(m Message) {
	r.append(entry{Message: m, at: time.Now()})
}

// setInit makes init the media init of the entries published from now on.
// The next entry published must be a start point, so that no viewer gets a
// fragment under an init it cannot decode it with.
func (r *ring) setInit(init *mediaInit) {
	r.mu.Lock()
	r.init = init
	r.mu.Unlock()
}

// setStatus records the source's status and publishes it as an entry.
func (r *ring) setStatus(data []byte) {
	r.append(entry{Message: Message{Data: data}, at: time.Now(), isStatus: true})
}

func (r *ring) append(e entry) {
	r.mu.Lock()
	if r.end != nil {
		r.mu.Unlock()
		return
	}
	for r.head > r.tail && (r.head-r.tail == uint64(len(r.buf)) || r.bytes+len(e.Data) > r.maxBytes ||
		(r.hasStart && r.tail < r.lastStart && e.at.Sub(r.slot(r.tail).at) > r.maxAge)) {
		old := r.slot(r.tail)
		r.bytes -= len(old.Data)
		*old = entry{}
		r.tail++
	}
	if r.hasStart && r.lastStart < r.tail {
		r.hasStart = false
	}
	if e.isStatus {
		r.status = &frame{data: e.Data}
	}
	e.status = r.status
	e.init = r.init
	*r.slot(r.head) = e
	r.bytes += len(e.Data)
	if e.Start {
		r.lastStart, r.hasStart = r.head, true
	}
	r.head++
	wake := r.wake
	r.wake = make(chan struct{})
	r.mu.Unlock()
	close(wake)
}

// close ends the ring: readers get err after what was published before.
func (r *ring) close(err error) {
	r.mu.Lock()
	if r.end != nil {
		r.mu.Unlock()
		return
	}
	r.end = err
	wake := r.wake
	r.mu.Unlock()
	close(wake)
}

// cursor is one viewer's position in a ring.
type cursor struct {
	next       uint64
	positioned bool
	// startNext asks a new cursor to begin at the next start point rather
	// than at the newest one already published: less delay, a later start.
	startNext bool
	// needStart skips entries up to the next start point (status entries
	// excepted): the viewer has none yet, or lost one it depended on.
	needStart bool
	// started is set once the viewer has had a start point; skips before
	// that are not drops.
	started bool
}

// readResult is what read found for a viewer.
type readResult struct {
	entry entry
	ok    bool
	// dropped counts the entries skipped because the viewer was too far
	// behind or they were evicted before it got to them.
	dropped uint64
	// caughtUp reports that the viewer has now read everything published.
	caughtUp bool
	// wake is closed by the next publish; set when nothing was read.
	wake <-chan struct{}
	// end is set when nothing was read because the source has stopped.
	end error
	// status is the current status, for a viewer positioned where no entry
	// carries it yet.
	status *frame
}

// read returns the entry at c and advances it. A new cursor starts at the
// newest start point, or waits for the next one when there is none or it
// asked to. A cursor more than maxBacklog behind the newest entry skips to
// the newest start point; one whose entries were evicted skips to the oldest
// start point kept, or waits for the next. A viewer therefore never gets a
// fragment that depends on one it skipped: what it gets stays decodable.
func (r *ring) read(c *cursor, maxBacklog time.Duration) readResult {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var res readResult
	if !c.positioned {
		c.positioned = true
		c.next = r.head
		if r.hasStart && !c.startNext {
			c.next = r.lastStart
		} else {
			c.needStart = true
			res.status = r.status
		}
	}
	if c.next < r.tail {
		from := c.next
		c.next = r.head
		c.needStart = true
		for seq := r.tail; seq < r.head; seq++ {
			if r.slot(seq).Start {
				c.next, c.needStart = seq, false
				break
			}
		}
		res.dropped = c.next - from
	}
	if c.next < r.head && r.hasStart && r.lastStart > c.next {
		newest := r.slot(r.head - 1).at
		if newest.Sub(r.slot(c.next).at) > maxBacklog {
			res.dropped += r.lastStart - c.next
			c.next, c.needStart = r.lastStart, false
		}
	}
	for c.needStart && c.next < r.head {
		e := r.slot(c.next)
		if e.Start {
			c.needStart = false
			break
		}
		if e.isStatus {
			break
		}
		c.next++
		if c.started {
			res.dropped++
		}
	}
	if c.next < r.head {
		res.entry, res.ok = *r.slot(c.next), true
		c.started = c.started || res.entry.Start
		c.next++
		res.caughtUp = c.next == r.head
		return res
	}
	res.caughtUp = true
	res.wake = r.wake
	res.end = r.end
	return res
}

// setMaxBytes changes the bound on the bytes kept; the next publish trims
// to it.
func (r *ring) setMaxBytes(n int) {
	r.mu.Lock()
	r.maxBytes = n
	r.mu.Unlock()
}

// drop lets go of every entry of a closed ring that no one reads any more,
// and returns the bytes they held.
func (r *ring) drop() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.bytes
	clear(r.buf)
	r.tail, r.bytes, r.hasStart = r.head, 0, false
	return n
}

// size reports the number of entries and bytes kept.
func (r *ring) size() (entries int, bytes int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return int(r.head - r.tail), r.bytes
}

// waiter returns the channel the next publish closes, and whether the ring
// has ended, when it is closed already.
func (r *ring) waiter() (wake <-chan struct{}, ended bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.wake, r.end != nil
}
