package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Named streams: cameras kept in the config file and played by name
// (/live?src=front-door), so that pages never hold their passwords. A name
// is played through a relay (namedRelay), a stream of its own that reads
// the stream of the URL the name stands for: viewers of the name and
// viewers of the URL share that one producer, and the relay follows the
// name when a reload changes its URL, without its viewers reconnecting.

// namedConfig is one stream of the config file: its name, its source URL
// (credentials included), its RTSP transport if set, and its line.
type namedConfig struct {
	Name      string
	URL       string
	Transport string
	Line      int
}

// query is the stream's source as url= and transport= would name it.
func (c namedConfig) query() url.Values {
	q := url.Values{"url": {c.URL}}
	if c.Transport != "" {
		q.Set("transport", c.Transport)
	}
	return q
}

// checkNamed says what is wrong with a named stream's source, if anything,
// without repeating its URL.
func checkNamed(c namedConfig, cfg SourceConfig) error {
	src, err := parseSource(c.query(), cfg)
	if err != nil {
		return err
	}
	if strings.HasPrefix(src.key, "demo-text:") {
		return errors.New("demo-text:// sends text, not pictures: a named stream is a camera or a clip")
	}
	return nil
}

// namedStreams are the named streams now configured. Safe for concurrent
// use.
type namedStreams struct {
	hub *Hub
	cfg SourceConfig
	log *slog.Logger

	mu     sync.Mutex
	byName map[string]*namedStream
	order  []string // names in the file's order
}

// namedStream is one configuration of a name. A reload that changes or
// removes the name closes changed and leaves this one as it was.
type namedStream struct {
	conf    namedConfig
	display string // the URL with credentials masked
	changed chan struct{}
}

// newNamedStreams holds list, which the config file checked.
func newNamedStreams(hub *Hub, cfg SourceConfig, list []namedConfig, log *slog.Logger) *namedStreams {
	n := &namedStreams{hub: hub, cfg: cfg, log: log, byName: map[string]*namedStream{}}
	n.apply(list)
	return n
}

// newNamedStream is c as decoder plays it.
func (n *namedStreams) newNamedStream(c namedConfig) *namedStream {
	display := c.Name
	if src, err := parseSource(c.query(), n.cfg); err == nil {
		display = src.display
	}
	return &namedStream{conf: c, display: display, changed: make(chan struct{})}
}

// current is the configuration of name, if it has one.
func (n *namedStreams) current(name string) (*namedStream, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.byName[name]
	return e, ok
}

// source is the source viewers of name play: its relay.
func (n *namedStreams) source(name string) (source, bool) {
	if _, ok := n.current(name); !ok {
		return source{}, false
	}
	return source{key: name, display: name, producer: &namedRelay{names: n, name: name}}, true
}

// display is the masked URL name stands for, or "" if it is not
// configured.
func (n *namedStreams) display(name string) string {
	if e, ok := n.current(name); ok {
		return e.display
	}
	return ""
}

// namedView is a named stream as /config shows it.
type namedView struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// list is every named stream, credentials masked, in the file's order.
func (n *namedStreams) list() []namedView {
	n.mu.Lock()
	defer n.mu.Unlock()
	views := make([]namedView, 0, len(n.order))
	for _, name := range n.order {
		views = append(views, namedView{Name: name, URL: n.byName[name].display})
	}
	return views
}

// names is every stream's name, in the file's order.
func (n *namedStreams) names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.order)
}

// apply makes list the configuration: new names appear, a name whose URL
// or transport changed has its relay move to the new source (its viewers
// see reconnecting, then the new source), and a removed name ends its
// viewers with 4404. It logs each change, URLs masked.
func (n *namedStreams) apply(list []namedConfig) {
	changed := n.swap(list)
	for _, name := range changed {
		// After n.mu is let go: the hub's lock is taken before n.mu when
		// /streams asks for names.
		n.hub.forgetFailures(name)
	}
}

// swap puts list in place and returns the names whose source changed.
func (n *namedStreams) swap(list []namedConfig) (changed []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	next := make(map[string]*namedStream, len(list))
	order := make([]string, 0, len(list))
	for _, c := range list {
		old, ok := n.byName[c.Name]
		switch {
		case ok && old.conf.URL == c.URL && old.conf.Transport == c.Transport:
			next[c.Name] = old
		case ok:
			next[c.Name] = n.newNamedStream(c)
			close(old.changed)
			changed = append(changed, c.Name)
			n.log.Info("named stream changed", "name", c.Name, "url", next[c.Name].display)
		default:
			next[c.Name] = n.newNamedStream(c)
			n.log.Info("named stream added", "name", c.Name, "url", next[c.Name].display)
		}
		order = append(order, c.Name)
	}
	for name, old := range n.byName {
		if next[name] == nil {
			close(old.changed)
			n.log.Info("named stream removed", "name", name)
		}
	}
	n.byName, n.order = next, order
	return changed
}

// errRemoved ends the viewers of a name that the configuration no longer
// has.
func errRemoved(name string) error {
	return &closeError{code: closeNotFound, reason: fmt.Sprintf("the stream %q was removed from decoder's configuration", name)}
}

// forgetFailures lets a name and its outputs be tried again at once
// after its configuration changed: the failure remembered was the old
// source's (a wrong password, say), not the new one's.
func (h *Hub) forgetFailures(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key := range h.failed {
		if key == name || strings.HasPrefix(key, name+" → ") {
			delete(h.failed, key)
		}
	}
}

// namedInfo is the name and masked URL /streams shows for s, when it is a
// named stream's relay or an output of one.
func namedInfo(s *stream) (name, display string, ok bool) {
	suffix := ""
	p := s.producer
	if c, isOutput := p.(*converter); isOutput {
		p, suffix = c.base.producer, " → "+c.spec.key()
	}
	r, ok := p.(*namedRelay)
	if !ok {
		return "", "", false
	}
	if d := r.names.display(r.name); d != "" {
		return r.name, d + suffix, true
	}
	return r.name, s.display, true // removed: its relay is ending
}
