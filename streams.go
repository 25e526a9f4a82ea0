package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"
)

// streamInfo is one entry of GET /streams.
type streamInfo struct {
	// ID names the stream for /snapshot?id=, so that a page can show a
	// picture of a stream it did not start without knowing its URL.
	ID string `json:"id"`
	// Name is the config file's name of a named stream (its relay) and
	// of the outputs made of it; absent for streams of a URL.
	Name          string  `json:"name,omitempty"`
	URL           string  `json:"url"`
	State         string  `json:"state"`
	Viewers       int     `json:"viewers"`
	Outputs       int     `json:"outputs"`
	Bytes         uint64  `json:"bytes"`
	Messages      uint64  `json:"messages"`
	Drops         uint64  `json:"drops"`
	BufferedMsgs  int     `json:"buffered_messages"`
	BufferedBytes int     `json:"buffered_bytes"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	StartedAt     string  `json:"started_at"`
	Lingering     bool    `json:"lingering"`
	// Media is the init message viewers get: codecs, MIME type, size.
	Media json.RawMessage `json:"media,omitempty"`
	// Transcode is what an output converts, from what, to what, with
	// which encoder.
	Transcode *transcodeInfo `json:"transcode,omitempty"`
}

// Streams lists the running sources and outputs, credentials masked,
// oldest first.
func (h *Hub) Streams() []streamInfo {
	h.mu.Lock()
	list := make([]streamInfo, 0, len(h.streams))
	for _, s := range h.streams {
		state := stateConnecting
		if p := s.state.Load(); p != nil {
			state = *p
		}
		info := streamInfo{
			ID: s.id, URL: s.display, State: state, Viewers: s.viewers - s.internal, Outputs: s.internal,
			Bytes: s.bytes.Load(), Messages: s.messages.Load(), Drops: s.drops.Load(),
			UptimeSeconds: time.Since(s.started).Round(time.Millisecond).Seconds(),
			StartedAt:     s.started.UTC().Format(time.RFC3339),
			Lingering:     s.linger != nil,
		}
		if name, display, ok := namedInfo(s); ok {
			info.Name, info.URL = name, display
		}
		info.BufferedMsgs, info.BufferedBytes = s.ring.size()
		if init := s.media.Load(); init != nil {
			info.Media = init.info
		}
		if c, ok := s.producer.(*converter); ok {
			info.Transcode = c.info.Load()
		}
		list = append(list, info)
	}
	h.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].UptimeSeconds > list[j].UptimeSeconds })
	return list
}

// streamID is the id of the stream shared under key.
func (h *Hub) streamID(key string) string {
	sum := sha256.Sum256(append(h.idSalt[:], key...))
	return hex.EncodeToString(sum[:8])
}

// sourceByID is the source of the running stream id names; for an output,
// the source it is made of.
func (h *Hub) sourceByID(id string) (source, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.streams {
		if s.id == id {
			if c, ok := s.producer.(*converter); ok {
				return c.base, true
			}
			return s.src, true
		}
	}
	return source{}, false
}

// handleStreams lists the running sources in the envelope: all of them,
// or, for a token that names streams, those streams.
func handleStreams(h *Hub, p *accessPolicy) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		list := h.Streams()
		if c := p.grantOf(r).a.claims; c != nil && !c.allowsAll() {
			list = slices.DeleteFunc(list, func(s streamInfo) bool { return s.Name == "" || !c.allows(s.Name) })
		}
		writeData(w, http.StatusOK, list)
	}
}
