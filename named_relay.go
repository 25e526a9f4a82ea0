package main

import (
	"context"
	"fmt"
)

// namedRelay is the producer of a named stream. It reads the stream of the
// URL the name stands for through a tap, as an output does, so that the
// camera is pulled once for the name and for pages that give its URL, and
// muxes it again onto a timeline of its own: when a reload gives the name
// another URL, the relay says reconnecting, moves to the new source and
// carries its timeline on, so that its viewers' players keep playing
// without reconnecting. It ends when the name is removed (4404) or the
// source ends, as the source did.
type namedRelay struct {
	names *namedStreams
	name  string
}

func (r *namedRelay) Run(ctx context.Context, feed *Feed) error {
	out := newMuxer(feed)
	defer out.end()
	for {
		e, ok := r.names.current(r.name)
		if !ok {
			return errRemoved(r.name)
		}
		if err := r.follow(ctx, out, e); err != nil {
			return err
		}
		feed.SetStatus(Status{State: stateReconnecting, Reason: fmt.Sprintf("the configuration changed the source of %q", r.name)})
	}
}

// follow relays e's source until ctx is done or the source ends, which it
// returns, or e is changed or removed, when it returns nil.
func (r *namedRelay) follow(ctx context.Context, out *muxer, e *namedStream) error {
	src, err := parseSource(e.conf.query(), r.names.cfg)
	if err != nil {
		return err // checked when the file was read; only a vanished -media-dir file gets here
	}
	sub, err := r.names.hub.Subscribe(src, subscribeOptions{internal: true})
	if err != nil {
		return err
	}
	defer sub.Close()
	t := sub.s.feed.tap()
	defer sub.s.feed.taps.remove(t)
	var rs relayState
	rs.due = true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.changed:
			out.end()
			return nil
		case u, ok := <-t.units:
			if !ok {
				return sourceEnded(t.end)
			}
			if t.lost.Swap(false) {
				out.lost()
			}
			rs.handle(out, u)
		}
	}
}

// relayState is where a relay is in its source; only follow uses it.
type relayState struct {
	// init is the source's init that out was last reset for; due asks for
	// a reset at the next keyframe, as after the source reconnected.
	init *mediaInit
	due  bool
}

// handle passes one unit of the source on. The source's statuses reach
// the viewers, but for live, which the relay says once its own frames
// flow; each keyframe of new tracks, or the first after the source
// reconnected, starts the relay's muxer afresh on its own timeline.
func (rs *relayState) handle(out *muxer, u tapUnit) {
	switch {
	case u.status != nil:
		// A source not started yet has no state to pass on.
		if st := u.status.State; st != stateLive && st != "" {
			out.feed.SetStatus(*u.status)
			rs.due = true
		}
	case u.video != nil:
		v := u.video
		if v.key && v.init != nil && (rs.due || v.init != rs.init) {
			out.end()
			out.reset(trackSetup{video: v.format, audio: v.init.audio})
			rs.init, rs.due = v.init, false
		}
		if rs.init != nil {
			out.writeVideo(fromClock(v.pts, videoTimescale), v.au)
		}
	case u.audio != nil:
		// Audio of the track the muxer was reset for. Compared by what it
		// is, not by pointer: a source that connects again (or the demo's
		// next pass over its clip) sets its tracks up anew, and while they
		// are unchanged it keeps its init, which holds the first setup.
		if rs.init != nil && rs.init.audio != nil && u.audio.setup.key() == rs.init.audio.key() {
			out.writeAudioFrames(fromClock(u.audio.pts, u.audio.setup.rate), u.audio.frames)
		}
	}
}
