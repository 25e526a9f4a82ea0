package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// startConfigServer starts a server that reads the config file at path,
// as decoder does at start, and follows it.
func startConfigServer(t testing.TB, path string) (*testServer, *lockedBuffer) {
	t.Helper()
	cf, err := readConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return startNamedServer(t, cf.streams, func(c *Config) { c.ConfigFile = path })
}

// configOf is GET /config's data.
func configOf(t testing.TB, ts *testServer) (configStatus, []namedView, string) {
	t.Helper()
	_, body := getJSON(t, plainClient(), ts.base+"/config", nil)
	var env struct {
		Data struct {
			configStatus
			Streams []namedView `json:"streams"`
		}
	}
	json.Unmarshal([]byte(body), &env)
	return env.Data.configStatus, env.Data.Streams, body
}

// viewerEvent is what a followed viewer received: a status, an init (of
// width), a video fragment (its decode time), or the close.
type viewerEvent struct {
	kind          string // status, init, video, close
	state, reason string
	width         int
	at            uint64
	code          int
}

// viewerLog is everything a viewer received, read as it arrives so that
// the viewer stays healthy while the test looks elsewhere.
type viewerLog struct {
	mu     sync.Mutex
	events []viewerEvent
}

// follow reads c until it closes, into a log.
func follow(t testing.TB, c *websocket.Conn) *viewerLog {
	l := &viewerLog{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			typ, data, err := c.Read(context.Background())
			var e viewerEvent
			switch {
			case err != nil:
				e = viewerEvent{kind: "close", code: int(websocket.CloseStatus(err))}
			case typ == websocket.MessageText:
				var m struct {
					Type, State, Reason, Message string
					Video                        struct{ Width int }
				}
				json.Unmarshal(data, &m)
				e = viewerEvent{kind: m.Type, state: m.State, reason: m.Reason + m.Message, width: m.Video.Width}
			default:
				track, at, ok := fragmentTime(data)
				if !ok || track != videoTrackID {
					continue
				}
				e = viewerEvent{kind: "video", at: at}
			}
			l.mu.Lock()
			l.events = append(l.events, e)
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	})
	t.Cleanup(func() {
		c.CloseNow()
		wg.Wait()
	})
	return l
}

// since is what l received from event i on.
func (l *viewerLog) since(i int) []viewerEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events[min(i, len(l.events)):])
}

// find is the index of the first event from i that match holds for, or -1.
func (l *viewerLog) find(i int, match func(viewerEvent) bool) int {
	for j, e := range l.since(i) {
		if match(e) {
			return i + j
		}
	}
	return -1
}

// TestNamedReloadByFile: writing the config file adds, changes and removes
// named streams while viewers watch: the viewer of a changed stream hears
// reconnecting, then gets the new source on the same timeline; the viewer
// of a removed one is closed with 4404 and why; a new name plays; the
// viewer of an unchanged one sees nothing.
func TestNamedReloadByFile(t *testing.T) {
	requireFFmpeg(t)
	small := makeClip(t, "small", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p")
	cam := startTestCamera(t, small)
	cam.user, cam.pass = "admin", testPassword
	path := writeConfig(t, "streams:\n  keep: demo://\n  change: demo://\n  gone: demo://\n")
	ts, logs := startConfigServer(t, path)

	keep, change, gone := follow(t, dial(t, ts.ws+"/live?src=keep")), follow(t, dial(t, ts.ws+"/live?src=change")), follow(t, dial(t, ts.ws+"/live?src=gone"))
	isVideo := func(e viewerEvent) bool { return e.kind == "video" }
	for _, l := range []*viewerLog{keep, change, gone} {
		waitFor(t, 10*time.Second, "the first frames", func() bool { return l.find(0, isVideo) >= 0 })
	}
	mark := len(change.since(0))

	newFile := "streams:\n  keep: demo://\n  change: rtsp://admin:" + testPassword + "@" + cam.addr + "/stream\n  added: demo://\n"
	if err := os.WriteFile(path, []byte(newFile), 0o600); err != nil {
		t.Fatal(err)
	}
	isClose := func(e viewerEvent) bool { return e.kind == "close" }
	waitFor(t, 10*time.Second, "the removed stream's viewer to be closed", func() bool { return gone.find(0, isClose) >= 0 })
	if e := gone.since(gone.find(0, isClose))[0]; e.code != closeNotFound {
		t.Errorf("the viewer of a removed stream was closed %d, want 4404", e.code)
	}
	if i := gone.find(0, func(e viewerEvent) bool { return e.kind == "error" }); i < 0 || !strings.Contains(gone.since(i)[0].reason, `"gone" was removed`) {
		t.Errorf("the removed stream's viewer heard no reason: %+v", gone.since(0))
	}
	newInit := func(e viewerEvent) bool { return e.kind == "init" && e.width == 320 }
	waitFor(t, 10*time.Second, "the changed stream's new source", func() bool {
		i := change.find(mark, newInit)
		return i >= 0 && change.find(i, isVideo) >= 0
	})
	switching := change.find(mark, func(e viewerEvent) bool {
		return e.kind == "status" && e.state == stateReconnecting && strings.Contains(e.reason, "configuration")
	})
	var before, after uint64
	for _, e := range change.since(0)[:max(switching, 0)] {
		if isVideo(e) {
			before = e.at
		}
	}
	after = change.since(change.find(change.find(mark, newInit), isVideo))[0].at
	if switching < 0 || after <= before {
		t.Errorf("the changed stream's viewer: reconnecting at %d, decode time %d before and %d after; want reconnecting and a timeline that carries on:\n%+v", switching, before, after, change.since(mark))
	}
	if keep.find(0, func(e viewerEvent) bool {
		return e.kind == "close" || e.kind == "error" || e.state == stateReconnecting || e.state == stateEnded
	}) >= 0 {
		t.Errorf("the unchanged stream's viewer saw the reload: %+v", keep.since(0))
	}
	added := follow(t, dial(t, ts.ws+"/live?src=added"))
	waitFor(t, 10*time.Second, "the added stream to play", func() bool { return added.find(0, isVideo) >= 0 })
	if strings.Contains(logs.String(), testPassword) {
		t.Errorf("the password shows in the log:\n%s", logs)
	}
}

// TestNamedReloadBadFile: a file that does not parse changes nothing: the
// streams play on, and decoder says where the file is wrong, in the log
// and in /config, without its credentials.
func TestNamedReloadBadFile(t *testing.T) {
	path := writeConfig(t, "streams:\n  keep: demo://\n")
	ts, logs := startConfigServer(t, path)
	keep := follow(t, dial(t, ts.ws+"/live?src=keep"))
	isVideo := func(e viewerEvent) bool { return e.kind == "video" }
	waitFor(t, 10*time.Second, "the stream to play", func() bool { return keep.find(0, isVideo) >= 0 })

	os.WriteFile(path, []byte("streams:\n  keep: demo://\n  keep: rtsp://admin:"+testPassword+"@cam/x\n"), 0o600)
	waitFor(t, 5*time.Second, "/config to say the file is wrong", func() bool { st, _, _ := configOf(t, ts); return !st.Loaded })
	st, list, body := configOf(t, ts)
	if want := path + `:3: stream "keep" is named twice (first at line 2)`; st.Error != want || len(list) != 1 {
		t.Errorf("/config after a bad write: %+v with %d streams, want error %q and the running stream", st, len(list), want)
	}
	if !strings.Contains(logs.String(), "config file not reloaded") || !strings.Contains(logs.String(), path+":3:") {
		t.Errorf("the log does not say where the file is wrong:\n%s", logs)
	}
	playing := len(keep.since(0))
	waitFor(t, 5*time.Second, "the stream to play on", func() bool { return keep.find(playing, isVideo) >= 0 })
	if strings.Contains(body+logs.String(), testPassword) {
		t.Errorf("the password shows in /config or the log")
	}

	os.WriteFile(path, []byte("streams:\n  keep: demo://\n  door: demo://\n"), 0o600)
	waitFor(t, 5*time.Second, "/config to take the mended file", func() bool { st, list, _ := configOf(t, ts); return st.Loaded && st.Error == "" && len(list) == 2 })
}

// TestNamedReloadBySIGHUP: decoder reads its file again on SIGHUP, which
// is how a file it cannot watch (here, through a symlink to another
// directory) is reloaded; a viewer then plays the stream it added.
func TestNamedReloadBySIGHUP(t *testing.T) {
	real := writeConfig(t, "streams:\n  cam: demo://\n")
	link := filepath.Join(t.TempDir(), "decoder.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	p := startDecoder(t, []string{"PORT=" + freePort(t)}, "-headless", "-config", link)
	os.WriteFile(real, []byte("streams:\n  cam: demo://\n  door: demo://\n"), 0o600)
	hasDoor := func() bool {
		resp, err := plainClient().Get(p.url + "/config")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var env struct{ Data struct{ Streams []namedView } }
		json.NewDecoder(resp.Body).Decode(&env)
		return len(env.Data.Streams) == 2
	}
	time.Sleep(3 * reloadSettle)
	if hasDoor() {
		t.Fatal("decoder saw a change it cannot watch: this test no longer tells SIGHUP from the watcher")
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "SIGHUP to add door", hasDoor)
	c := dial(t, "ws"+strings.TrimPrefix(p.url, "http")+"/live?src=door")
	if m := readUntil(t, c, "init"); m.Type != "init" {
		t.Error("door does not play")
	}
	if status, _ := getJSON(t, plainClient(), p.url+"/version", nil); status != http.StatusOK {
		t.Errorf("decoder answers /version with %d after SIGHUP", status)
	}
}

// TestConfigStatusWithoutFile: a decoder started without a config file
// says where it would read one, and that it read none.
func TestConfigStatusWithoutFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	ts, logs := startNamedServer(t, nil, nil)
	st, list, _ := configOf(t, ts)
	if want := filepath.Join(home, "decoder", configFileName); st.Path != want || st.Loaded || st.Error != "" || len(list) != 0 {
		t.Errorf("/config without a file: %+v %v, want path %s, not loaded, no streams", st, list, want)
	}
	if err := ts.Reload(); err != nil || !strings.Contains(logs.String(), "no config file to reload") {
		t.Errorf("reload without a file: %v; log:\n%s", err, logs)
	}
}
