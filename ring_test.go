package main

import (
	"strings"
	"testing"
	"time"
)

// publishGOPs publishes a video-like stream: each GOP is a keyframe "K"
// then deltas "d", written as a string such as "Kdd Kdd".
func publishGOPs(r *ring, pattern string, init *mediaInit) {
	for _, gop := range strings.Fields(pattern) {
		for i, c := range gop {
			if i == 0 && init != nil {
				r.setInit(init)
			}
			r.publish(Message{Data: []byte{byte(c)}, Binary: true, Start: c == 'K'})
		}
	}
}

// readAll reads what a cursor can get now and returns it as a string, with
// the drops counted.
func readAll(r *ring, c *cursor) (got string, dropped uint64) {
	for {
		res := r.read(c, time.Hour)
		dropped += res.dropped
		if !res.ok {
			return got, dropped
		}
		if !res.entry.isStatus {
			got += string(res.entry.Data)
		}
	}
}

func TestRingReaders(t *testing.T) {
	tests := []struct {
		name        string
		before      string // published before the cursor reads
		startNext   bool
		after       string // published after its first read
		capacity    int
		want        string
		wantDropped uint64
	}{
		{name: "joins at the newest keyframe", before: "Kdd Kd", want: "Kd"},
		{name: "joins and follows", before: "Kdd Kd", after: "d Kdd", want: "KddKdd"},
		{name: "waits for a keyframe when none is buffered", before: "", after: "Kd", want: "Kd"},
		{name: "start=next skips the buffered GOP", before: "Kdd Kd", startNext: true, after: "dd Kd", want: "Kd"},
		{name: "after eviction resumes at a keyframe, never mid-GOP", before: "Kd", capacity: 4, after: "dddd dKdd", want: "KKdd", wantDropped: 6},
		{name: "after eviction with no keyframe kept waits for one", before: "Kd", capacity: 4, after: "dddddd Kd", want: "KKd", wantDropped: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capacity := tt.capacity
			if capacity == 0 {
				capacity = 64
			}
			r := newRing(capacity, 1<<20, time.Hour)
			publishGOPs(r, tt.before, nil)
			c := &cursor{startNext: tt.startNext}
			got, dropped := readAll(r, c)
			if tt.capacity > 0 {
				// Read one entry, then let the ring overrun the cursor.
				got, dropped = got[:min(len(got), 1)], 0
				c = &cursor{positioned: true, next: 1, started: true}
			}
			publishGOPs(r, tt.after, nil)
			more, d := readAll(r, c)
			got += more
			dropped += d
			if got != tt.want || dropped != tt.wantDropped {
				t.Errorf("got %q with %d dropped, want %q with %d", got, dropped, tt.want, tt.wantDropped)
			}
		})
	}
}

// TestRingTrimsByAge: a source keeps what a viewer may still use, the
// current GOP and maxAge before it, however long its GOPs are.
func TestRingTrimsByAge(t *testing.T) {
	r := newRing(1024, 1<<30, 50*time.Millisecond)
	publishGOPs(r, "Kddd", nil)
	time.Sleep(100 * time.Millisecond)
	publishGOPs(r, "Kd", nil)
	if entries, _ := r.size(); entries != 2 {
		t.Errorf("ring keeps %d entries, want 2: the old GOP is past maxAge", entries)
	}
	time.Sleep(100 * time.Millisecond)
	publishGOPs(r, "dd", nil)
	if entries, _ := r.size(); entries != 4 {
		t.Errorf("ring keeps %d entries, want 4: the current GOP is never trimmed", entries)
	}
}

// TestRingInit: entries carry the init in force when published, so a
// viewer always gets the one its keyframe needs.
func TestRingInit(t *testing.T) {
	r := newRing(64, 1<<20, time.Hour)
	first, second := &mediaInit{info: []byte("1")}, &mediaInit{info: []byte("2")}
	publishGOPs(r, "Kd", first)
	publishGOPs(r, "Kd", second)
	c := &cursor{}
	res := r.read(c, time.Hour)
	if !res.ok || res.entry.init != second || !res.entry.Start {
		t.Fatalf("a late viewer starts at %+v, want the newest keyframe with the second init", res.entry)
	}
	old := &cursor{}
	r2 := newRing(64, 1<<20, time.Hour)
	publishGOPs(r2, "Kd", first)
	r2.read(old, time.Hour)
	publishGOPs(r2, "Kd", second)
	var inits []string
	for res := r2.read(old, time.Hour); res.ok; res = r2.read(old, time.Hour) {
		inits = append(inits, string(res.entry.init.info))
	}
	if got := strings.Join(inits, ""); got != "122" {
		t.Errorf("entries carry inits %q, want 122", got)
	}
}
