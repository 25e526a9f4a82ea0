package main

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reloading: the config file is read again on SIGHUP and whenever it
// changes (fsnotify on its directory, since editors replace a file rather
// than write it), and its streams applied. A file that does not parse, or
// names an invalid URL, changes nothing: decoder keeps its running
// configuration and says where the file is wrong, in the log and in GET
// /config. Other settings take effect at the next start, which the log
// says. The token key is looked at every few seconds too, so that decoder
// token -rotate ends the sessions of the tokens it revokes.

// reloadSettle is how long the file must be quiet before it is read: an
// editor's save is several events.
const reloadSettle = 200 * time.Millisecond

// configReloader applies the config file again. Safe for concurrent use.
type configReloader struct {
	path    string
	started configFile // as read at start, to tell which settings changed
	sources SourceConfig
	names   *namedStreams
	keys    *tokenKeys
	log     *slog.Logger

	mu     sync.Mutex
	status configStatus
}

// configStatus is the config file's state, for GET /config.
type configStatus struct {
	// Path is the file decoder reads or, started without one, the file
	// it would read at its next start (Loaded false), "" if none.
	Path string `json:"path"`
	// Loaded reports whether the file's latest content is in use.
	Loaded   bool   `json:"loaded"`
	LoadedAt string `json:"loaded_at,omitempty"`
	// Error is why the latest reading failed: file:line: why.
	Error string `json:"error,omitempty"`
}

func newConfigReloader(cfg Config, names *namedStreams, keys *tokenKeys, log *slog.Logger) *configReloader {
	c := &configReloader{path: cfg.ConfigFile, sources: cfg.Live.Sources, names: names, keys: keys, log: log,
		status: configStatus{Path: cfg.ConfigFile}}
	if c.path == "" {
		c.status.Path = defaultConfigPath()
	} else {
		// Read again for the settings only: parseConfig checked it.
		c.started, _ = readConfigFile(c.path)
		c.status.Loaded, c.status.LoadedAt = true, time.Now().UTC().Format(time.RFC3339)
	}
	return c
}

// reload reads the file and applies its streams, or keeps the running
// configuration and says why.
func (c *configReloader) reload() error {
	if c.path == "" {
		c.log.Info("no config file to reload: decoder was started without one; write " + defaultConfigPath() + " (or start it with -config FILE) and start it again")
		return nil
	}
	cf, err := readConfigFile(c.path)
	if err == nil {
		err = cf.checkSettings()
	}
	if err == nil {
		err = cf.checkStreams(c.sources)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.status.Loaded, c.status.Error = false, err.Error()
		c.log.Warn("config file not reloaded: decoder keeps its running configuration", "err", err.Error())
		return err
	}
	if changed := c.started.changedSettings(cf); len(changed) > 0 {
		c.log.Warn("settings of the config file take effect when decoder restarts; only streams are reloaded", "changed", changed)
	}
	c.names.apply(cf.streams)
	c.status = configStatus{Path: c.path, Loaded: true, LoadedAt: time.Now().UTC().Format(time.RFC3339)}
	c.log.Info("config file reloaded", "path", c.path, "streams", len(cf.streams))
	return nil
}

// checkSettings checks the file's settings as start-up would.
func (cf configFile) checkSettings() error {
	var scratch Config
	fs := flag.NewFlagSet("decoder", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defineFlags(fs, &scratch)
	return cf.apply(fs)
}

// changedSettings lists the settings whose value next gives otherwise.
func (cf configFile) changedSettings(next configFile) []string {
	values := func(c configFile) map[string]string {
		m := map[string]string{}
		for _, s := range c.settings {
			m[s.name] = s.value
		}
		return m
	}
	was, now := values(cf), values(next)
	var changed []string
	for name, v := range now {
		if old, ok := was[name]; !ok || old != v {
			changed = append(changed, name)
		}
	}
	for name := range was {
		if _, ok := now[name]; !ok {
			changed = append(changed, name)
		}
	}
	return changed
}

// current is the file's state now.
func (c *configReloader) current() configStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// keyCheck is how often decoder looks at the token key file: decoder token
// -rotate, run beside it, ends the sessions of the tokens it revokes
// within that. A stat every few seconds costs nothing, and needs no
// directory made or watched for a key that may never exist.
const keyCheck = 2 * time.Second

// watch follows the config file and the token key until stop, which
// waits for them. Without a watcher (the system refuses one), SIGHUP still
// reloads.
func (c *configReloader) watch() (stop func()) {
	var w *fsnotify.Watcher
	if c.path != "" {
		var err error
		if w, err = fsnotify.NewWatcher(); err == nil {
			err = w.Add(filepath.Dir(c.path))
		}
		if err != nil {
			c.log.Warn("cannot watch the config file: reload it with SIGHUP", "err", err)
			if w != nil {
				w.Close()
				w = nil
			}
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.follow(w, done) })
	return func() {
		close(done)
		wg.Wait()
		if w != nil {
			w.Close()
		}
	}
}

// follow reloads once the config file has settled after a change, and
// reads the token key again when it changes, until done.
func (c *configReloader) follow(w *fsnotify.Watcher, done <-chan struct{}) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	keys := time.NewTicker(keyCheck)
	defer keys.Stop()
	for {
		select {
		case <-done:
			return
		case ev := <-events:
			if filepath.Clean(ev.Name) == c.path {
				settle.Reset(reloadSettle)
			}
		case err := <-errs:
			c.log.Warn("watching the config file", "err", err)
		case <-settle.C:
			c.reload()
		case <-keys.C:
			c.keyChanged()
		}
	}
}

// keyChanged reads the token key again, and says when that revoked the
// tokens given so far.
func (c *configReloader) keyChanged() {
	before, _ := c.keys.current()
	err := c.keys.refresh()
	after, _ := c.keys.current()
	switch {
	case err != nil:
		c.log.Warn("token key", "err", err)
	case before != nil && after != before:
		c.log.Info("the token key changed: every viewer link given before it no longer works")
	}
}

// handleConfig is GET /config: the config file, whether its latest
// content is in use and why not, and its streams, credentials masked.
func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	if localRequestOnly(w, r, "GET /config answers") {
		return
	}
	writeData(w, http.StatusOK, struct {
		configStatus
		Streams []namedView `json:"streams"`
		// URLs reports whether pages may play source URLs (-urls).
		URLs bool `json:"urls"`
	}{s.reloader.current(), s.names.list(), s.access.urls})
}

// onHangup reloads the config file at each SIGHUP until stop.
func onHangup(reload func() error) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hup:
				reload()
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(hup)
		close(done)
		wg.Wait()
	}
}
