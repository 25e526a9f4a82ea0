package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// snapshotFresh is how long a snapshot is served again rather than made
// anew: a wall of posters asks for sixteen of them every few seconds, and
// none needs a picture newer than that.
const snapshotFresh = time.Second

// snapshotHandler serves GET /snapshot?url=…[&height=N]: the newest
// keyframe of a source as a JPEG. It starts the source if it is not
// running (which then lingers as usual), waits at most the source timeout
// for a keyframe, and decodes it with ffmpeg, at most -max-transcodes
// snapshots at once (apart from the transcodes).
type snapshotHandler struct {
	cfg     LiveConfig
	hub     *Hub
	origins originPolicy
	log     *slog.Logger
	access  *accessPolicy

	mu    sync.Mutex
	cache map[string]*snapshotJob
	wg    sync.WaitGroup // snapshots being made
}

// snapshotJob is one picture, made or being made; done is closed once jpeg or
// err is set, so that callers for the same picture share the work.
type snapshotJob struct {
	done chan struct{}
	at   time.Time
	jpeg []byte
	err  *httpError
}

// httpError is an answer in the envelope.
type httpError struct {
	status  int
	message string
}

func (h *snapshotHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := h.checkOrigin(r); e != nil {
		writeError(w, e.status, "%s", e.message)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the parameters cannot be read: separate them with & and encode the source URL with encodeURIComponent")
		return
	}
	src, height, e := h.parse(h.access.grantOf(r), q)
	if e != nil {
		writeError(w, e.status, "%s", e.message)
		return
	}
	// A snapshot may wait its turn behind others and the source's
	// keyframe: longer than the server's usual bound on an answer.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.cfg.Sources.Timeout + snapshotQueueWait + snapshotDecode))
	s := h.get(r.Context(), src, height)
	select {
	case <-s.done:
	case <-r.Context().Done():
		return
	}
	if s.err != nil {
		writeError(w, s.err.status, "%s", s.err.message)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(s.jpeg)
}

// checkOrigin applies /live's rule: a page may ask only from an allowed
// origin. An image a foreign page embeds carries no Origin, but browsers
// mark it cross-site; it is refused too, or any web page could make
// decoder call any address.
func (h *snapshotHandler) checkOrigin(r *http.Request) *httpError {
	origin := r.Header.Get("Origin")
	switch {
	case origin != "" && !h.origins.allows(origin, r.Host):
		return &httpError{http.StatusForbidden, "origin " + origin + " is not allowed to use /snapshot; start decoder with -allowed-origins " + origin + " to allow it"}
	case origin == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site":
		return &httpError{http.StatusForbidden, "/snapshot is not for other sites' pages; from an allowed origin, fetch it with fetch()"}
	}
	return nil
}

// parse checks the source (url, src, or the id of a running stream) and
// height parameters against what the request may see.
func (h *snapshotHandler) parse(g grant, q url.Values) (source, int, *httpError) {
	var src source
	if id := q.Get("id"); id != "" {
		var ok bool
		if src, ok = h.hub.sourceByID(id); !ok || !g.allowsStream(src) {
			return src, 0, &httpError{http.StatusNotFound, "no running stream has id " + strconv.Quote(id) + " (that this request may see); GET /streams lists them"}
		}
	} else {
		var err error
		if src, err = g.source(q, h.cfg.Sources); err != nil {
			var ce *closeError
			errors.As(err, &ce)
			return src, 0, &httpError{closeStatus(ce), err.Error()}
		}
	}
	height := 0
	if v := q.Get("height"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > maxOutputHeight {
			return src, 0, &httpError{http.StatusBadRequest, "height must be a number of pixels from 2 to " + strconv.Itoa(maxOutputHeight)}
		}
		height = n &^ 1
	}
	return src, height, nil
}

// get returns the snapshot of src at height: a fresh one from the cache,
// the one being made, or a new one.
func (h *snapshotHandler) get(ctx context.Context, src source, height int) *snapshotJob {
	key := src.key + " height=" + strconv.Itoa(height)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache == nil {
		h.cache = map[string]*snapshotJob{}
	}
	for k, s := range h.cache {
		if !s.at.IsZero() && time.Since(s.at) > snapshotFresh {
			delete(h.cache, k)
		}
	}
	if s := h.cache[key]; s != nil {
		return s
	}
	s := &snapshotJob{done: make(chan struct{})}
	h.cache[key] = s
	// Made apart from the request that asked: the callers sharing it must
	// not lose it when the first one goes.
	h.wg.Go(func() {
		s.jpeg, s.err = h.make(src, height)
		h.mu.Lock()
		s.at = time.Now()
		h.mu.Unlock()
		close(s.done)
	})
	return s
}

// wait returns once no snapshot is being made; at shutdown, the hub's end
// cuts them short.
func (h *snapshotHandler) wait() { h.wg.Wait() }

// Bounds of making a snapshot once its keyframe is there: the wait for a
// -max-transcodes slot, which a burst of snapshots queues for, and
// ffmpeg's decoding.
const (
	snapshotQueueWait = 30 * time.Second
	snapshotDecode    = 10 * time.Second
)

// make takes the source's newest keyframe and decodes it.
func (h *snapshotHandler) make(src source, height int) ([]byte, *httpError) {
	path, err := lookFFmpeg(h.cfg.FFmpeg)
	if err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, "snapshots need ffmpeg: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(h.hub.ctx, h.cfg.Sources.Timeout)
	init, frame, e := h.keyframe(ctx, src)
	cancel()
	if e != nil {
		return nil, e
	}
	queued := time.NewTimer(snapshotQueueWait)
	defer queued.Stop()
	select {
	case h.hub.snapshots <- struct{}{}:
		defer func() { <-h.hub.snapshots }()
	case <-queued.C:
		return nil, &httpError{http.StatusServiceUnavailable, "too many snapshots at once (-max-transcodes); try again"}
	case <-h.hub.ctx.Done():
		return nil, &httpError{http.StatusServiceUnavailable, errShuttingDown.reason}
	}
	ctx, cancel = context.WithTimeout(h.hub.ctx, snapshotDecode)
	defer cancel()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-f", "mp4", "-i", "pipe:0", "-frames:v", "1"}
	if height > 0 {
		args = append(args, "-vf", "scale=-2:'min(ih,"+strconv.Itoa(height)+")'")
	}
	args = append(args, "-q:v", "3", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1")
	jpeg, err := runFFmpegOnce(ctx, path, args, append(append([]byte(nil), init.segment...), frame...))
	if err != nil || len(jpeg) == 0 {
		h.log.Warn("snapshot failed", "source", src.display, "err", err)
		return nil, &httpError{http.StatusBadGateway, "the keyframe could not be decoded"}
	}
	return jpeg, nil
}

// keyframe waits for the source's newest keyframe, starting the source if
// it is not running: 502 with the source's reason if it fails or keeps
// reconnecting, 504 if it sends no keyframe in time.
func (h *snapshotHandler) keyframe(ctx context.Context, src source) (*mediaInit, []byte, *httpError) {
	sub, err := h.hub.Subscribe(src, subscribeOptions{internal: true})
	if err != nil {
		var ce *closeError
		errors.As(err, &ce)
		status := http.StatusServiceUnavailable // shutting down, too many sources
		if ce.code == closeSourceFailed {
			status = http.StatusBadGateway
		}
		return nil, nil, &httpError{status, ce.reason}
	}
	defer sub.Close()
	var status Status
	for {
		res := sub.read(h.cfg.MaxBacklog)
		switch {
		case res.ok && res.entry.isStatus:
			status = parseStatus(res.entry.Data)
		case res.ok && res.entry.Start && res.entry.Binary && res.entry.init != nil:
			return res.entry.init, res.entry.Data, nil
		case res.ok && res.entry.Start && !res.entry.Binary:
			return nil, nil, &httpError{http.StatusBadRequest, "this source has no pictures: it sends text"}
		case res.ok:
		case res.end != nil:
			return nil, nil, &httpError{http.StatusBadGateway, res.end.Error()}
		default:
			select {
			case <-res.wake:
			case <-ctx.Done():
				if status.State == stateReconnecting {
					return nil, nil, &httpError{http.StatusBadGateway, status.Reason}
				}
				return nil, nil, &httpError{http.StatusGatewayTimeout, "the source sent no keyframe within the source timeout"}
			}
		}
	}
}
