package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"
)

// What the tray tells, apart from the tray itself so that it is the same on
// every platform and can be tested without a desktop: the status line of
// the tooltip and the menu, the cameras in trouble and why, the recent
// sources, and when a camera's outage deserves a notification.

// trayTitle is the tray item's title, as the design document names it.
const trayTitle = "解码器"

// streamSummary is one running source as the tray sees it.
type streamSummary struct {
	key     string // the source as viewers named it, credentials included
	display string // the same with credentials masked
	state   string
	reason  string
	started time.Time
}

// hubSummary is the hub at one moment: its viewers and its sources,
// oldest first.
type hubSummary struct {
	viewers int
	streams []streamSummary
}

// summary takes the hub's summary for the tray.
func (h *Hub) summary() hubSummary {
	h.mu.Lock()
	sum := hubSummary{viewers: h.viewers, streams: make([]streamSummary, 0, len(h.streams))}
	for _, s := range h.streams {
		ss := streamSummary{key: s.key, display: s.display, state: stateConnecting, started: s.started}
		if p := s.state.Load(); p != nil {
			ss.state = *p
		}
		if p := s.reason.Load(); p != nil {
			ss.reason = *p
		}
		sum.streams = append(sum.streams, ss)
	}
	h.mu.Unlock()
	sort.Slice(sum.streams, func(i, j int) bool { return sum.streams[i].started.Before(sum.streams[j].started) })
	return sum
}

// trayView is what the tray shows of a summary.
type trayView struct {
	// status is the tooltip and the menu's first line.
	status string
	// trouble has a line per camera reconnecting: the camera and why.
	trouble []string
}

// viewOf is the tray's view of sum.
func viewOf(sum hubSummary) trayView {
	v := trayView{status: statusLine(sum)}
	for _, s := range sum.streams {
		if s.state == stateReconnecting {
			v.trouble = append(v.trouble, s.display+": "+s.reason)
		}
	}
	return v
}

// equal reports whether the tray would show v and w alike.
func (v trayView) equal(w trayView) bool {
	return v.status == w.status && strings.Join(v.trouble, "\n") == strings.Join(w.trouble, "\n")
}

// statusLine says what decoder is doing in a few words: "解码器 — idle", or
// "解码器 — 3 cameras, 7 viewers, 1 reconnecting".
func statusLine(sum hubSummary) string {
	if len(sum.streams) == 0 && sum.viewers == 0 {
		return trayTitle + " — idle"
	}
	line := fmt.Sprintf("%s — %s, %s", trayTitle, plural(len(sum.streams), "camera"), plural(sum.viewers, "viewer"))
	reconnecting := 0
	for _, s := range sum.streams {
		if s.state == stateReconnecting {
			reconnecting++
		}
	}
	if reconnecting > 0 {
		line += fmt.Sprintf(", %d reconnecting", reconnecting)
	}
	return line
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shorten cuts s to at most n characters, ending it with "…" if cut, so
// that a long URL or reason does not stretch the menu across the screen.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// phonePanelID is the id of the dashboard's "Watch on phone" panel, which
// the tray's item of that name opens: the dashboard gives viewer links
// from there (POST /tokens), with their QR codes.
const phonePanelID = "watch-on-phone"

// recentMax is how many sources "Recent cameras" lists.
const recentMax = 5

// recentSource is a source as "Recent cameras" lists it.
type recentSource struct {
	key, display string
}

// recentSources are the last few sources viewers opened, newest first,
// kept only as long as decoder runs. A source whose URL holds a password
// is left out: opening it would hand the password to the browser in the
// page's address (and its history), which is what named streams exist to
// avoid; a camera named in the config file is listed by its name.
type recentSources struct {
	items []recentSource
}

// observe puts the sources of sum that are new to the list first, and
// reports whether the list changed.
func (r *recentSources) observe(sum hubSummary) bool {
	changed := false
	for _, s := range sum.streams {
		if hasCredentials(strings.TrimSuffix(s.key, udpSuffix)) {
			continue
		}
		known := false
		for _, it := range r.items {
			known = known || it.key == s.key
		}
		if !known {
			r.items = append([]recentSource{{key: s.key, display: s.display}}, r.items...)
			changed = true
		}
	}
	if len(r.items) > recentMax {
		r.items = r.items[:recentMax]
	}
	return changed
}

// hasCredentials reports whether a source key is a URL with a user or
// password in it.
func hasCredentials(key string) bool {
	u, err := url.Parse(key)
	return err == nil && u.User != nil
}

// udpSuffix marks the key of a source pulled over UDP (see parseSource).
const udpSuffix = " (udp)"

// pageFor is the address of decoder's page playing the source key.
func pageFor(pageURL, key string) string {
	return pageURL + "/?src=" + url.QueryEscape(strings.TrimSuffix(key, udpSuffix))
}

// A camera that was live and has been reconnecting for outageNotifyAfter
// is worth a desktop notification, at most once per outageNotifyEvery, so
// that a camera that keeps dropping does not keep interrupting.
const (
	outageNotifyAfter = time.Minute
	outageNotifyEvery = time.Hour
)

// outageWatch follows each camera's outages to decide when to notify.
type outageWatch struct {
	cams map[string]*outage
}

type outage struct {
	wasLive   bool
	downSince time.Time // zero while live
	notified  time.Time
}

// observe takes the summary at now and returns the cameras to notify about.
func (w *outageWatch) observe(sum hubSummary, now time.Time) []streamSummary {
	if w.cams == nil {
		w.cams = map[string]*outage{}
	}
	running := map[string]bool{}
	var notify []streamSummary
	for _, s := range sum.streams {
		running[s.key] = true
		o := w.cams[s.key]
		if o == nil {
			o = &outage{}
			w.cams[s.key] = o
		}
		switch {
		case s.state == stateLive:
			o.wasLive, o.downSince = true, time.Time{}
		case s.state != stateReconnecting || !o.wasLive:
		case o.downSince.IsZero():
			o.downSince = now
		case now.Sub(o.downSince) >= outageNotifyAfter && (o.notified.IsZero() || now.Sub(o.notified) >= outageNotifyEvery):
			o.notified = now
			notify = append(notify, s)
		}
	}
	// A source that stopped starts afresh; its last notification is kept
	// for the hour, then forgotten.
	for key, o := range w.cams {
		if running[key] {
			continue
		}
		o.wasLive, o.downSince = false, time.Time{}
		if o.notified.IsZero() || now.Sub(o.notified) >= outageNotifyEvery {
			delete(w.cams, key)
		}
	}
	return notify
}

// trayDeps is what the tray works with.
type trayDeps struct {
	pageURL string
	hub     *Hub
	// logPath is the log file "Open log" opens, or empty where the log
	// goes to stderr.
	logPath string
	// args are decoder's command-line flags, which "Start at login"
	// starts it with.
	args []string
	log  *slog.Logger
}

// errNoNotifier is notifyDesktop's error where the desktop has no
// notification service, or decoder no way to reach it.
var errNoNotifier = errors.New("no desktop notifications here")
