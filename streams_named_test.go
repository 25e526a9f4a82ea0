package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The password of the tests' cameras: no answer, message or log line may
// hold it.
const testPassword = "s3cretPW"

// capturedLog is a logger whose lines a test reads back, shown with -v
// too.
func capturedLog(t testing.TB) (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	var w io.Writer = buf
	if testing.Verbose() {
		w = io.MultiWriter(buf, testWriter{t})
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// startNamedServer starts a server whose configuration names streams, with
// a token key of its own (not yet made), and returns it with its log.
func startNamedServer(t testing.TB, streams []namedConfig, mutate func(*Config)) (*testServer, *lockedBuffer) {
	t.Helper()
	log, buf := capturedLog(t)
	ts := startTestServerLog(t, func(c *Config) {
		c.Streams = streams
		c.TokenKey = filepath.Join(t.TempDir(), "decoder", tokenKeyFile)
		if mutate != nil {
			mutate(c)
		}
	}, log)
	return ts, buf
}

// getJSON fetches path and returns the status and the raw body, failing
// if the answer is not in the envelope.
func getJSON(t testing.TB, client *http.Client, u string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Code != resp.StatusCode {
		t.Fatalf("GET %s: %d outside the envelope: %s", u, resp.StatusCode, body)
	}
	return resp.StatusCode, string(body)
}

// plainClient is an HTTP client that keeps no connection.
func plainClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// expectClose dials u and expects the connection to end with code and a
// reason holding want, after an error message saying the same.
func expectClose(t testing.TB, u string, code int, want string) string {
	t.Helper()
	c := dial(t, u)
	ce, msgs := readClose(t, c, 5*time.Second)
	if int(ce.Code) != code || !strings.Contains(ce.Reason, want) {
		t.Fatalf("%s: closed %d %q, want %d and %q", u, ce.Code, ce.Reason, code, want)
	}
	if len(msgs) == 0 || msgs[len(msgs)-1].Type != "error" || msgs[len(msgs)-1].Code != code {
		t.Errorf("%s: no error message %d before the close: %+v", u, code, msgs)
	}
	return ce.Reason
}

// TestNamedStreams: a named stream plays by name and shares its camera
// with pages that give the URL; /streams and /config show names and
// masked URLs; the password is in no answer or log line.
func TestNamedStreams(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	cam.user, cam.pass = "admin", testPassword
	camURL := "rtsp://admin:" + testPassword + "@" + cam.addr + "/stream"
	ts, logs := startNamedServer(t, []namedConfig{{Name: "front-door", URL: camURL}, {Name: "demo", URL: "demo://"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	named := dial(t, ts.ws+"/live?src=front-door")
	byURL := dial(t, ts.liveURL(camURL))
	recs := recordAll(t, ctx, []*websocket.Conn{named, byURL}, nil, 25)
	for i, rec := range recs {
		if len(rec.inits) != 1 || rec.inits[0].Video.Width != 1280 {
			t.Errorf("viewer %d got inits %+v, want one of 1280 wide", i, rec.inits)
		}
	}
	keepReading(t, named)
	keepReading(t, byURL)
	if opened, _, _ := cam.sessions(); opened != 1 {
		t.Errorf("the camera saw %d RTSP sessions for its name and its URL, want 1", opened)
	}

	client := plainClient()
	_, streamsBody := getJSON(t, client, ts.base+"/streams", nil)
	var streams struct{ Data []streamInfo }
	json.Unmarshal([]byte(streamsBody), &streams)
	masked := "rtsp://***@" + cam.addr + "/stream"
	var names []string
	for _, s := range streams.Data {
		names = append(names, s.Name+"="+s.URL)
	}
	slices.Sort(names)
	if strings.Join(names, " ") != "="+masked+" front-door="+masked {
		t.Errorf("/streams lists %q, want the camera's URL stream and its name's, masked", names)
	}
	_, configBody := getJSON(t, client, ts.base+"/config", nil)
	if want := `"streams":[{"name":"front-door","url":"` + masked + `"},{"name":"demo","url":"demo://"}],"urls":true`; !strings.Contains(configBody, want) {
		t.Errorf("/config = %s, want %s", configBody, want)
	}
	requireFFmpeg(t)
	if status, width, _, msg := getSnapshot(t, ts, "src=front-door&height=360", nil); status != 200 || width != 640 {
		t.Errorf("/snapshot?src=front-door: %d %d wide %q, want a 640x360 JPEG", status, width, msg)
	}
	if strings.Contains(streamsBody+configBody+logs.String(), testPassword) {
		t.Errorf("the password shows in /streams, /config or the log:\n%s\n%s\n%s", streamsBody, configBody, logs)
	}
}

// TestNamedStreamErrors: every wrong request for a named stream is closed
// with its code and reason (/snapshot answers with the status of the same
// meaning), and so is a named camera that refuses its password; none of
// them, nor the log, shows the password.
func TestNamedStreamErrors(t *testing.T) {
	cam := startTestCamera(t, demoClip)
	cam.user, cam.pass = "admin", "the-right-one"
	locked := "rtsp://admin:" + testPassword + "@" + cam.addr + "/stream"
	ts, logs := startNamedServer(t, []namedConfig{{Name: "locked", URL: locked}, {Name: "demo", URL: "demo://"}}, nil)
	var seen strings.Builder
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"src=back-door", closeNotFound, `no stream named "back-door"`},
		{"src=demo&url=demo://", closeBadRequest, "not both"},
		{"src=demo&transport=udp", closeBadRequest, "set in decoder's configuration"},
		{"src=", closeBadRequest, "src is empty"},
		{"src=locked", closeSourceFailed, "refused the credentials"},
	} {
		seen.WriteString(expectClose(t, ts.ws+"/live?"+tc.query, tc.code, tc.want))
	}
	for query, want := range map[string]int{"src=back-door": 404, "src=demo&url=demo://": 400, "src=locked": 502} {
		status, _, _, msg := getSnapshot(t, ts, query, nil)
		seen.WriteString(msg)
		if status != want {
			t.Errorf("/snapshot?%s: %d %q, want %d", query, status, msg, want)
		}
	}
	_, body := getJSON(t, plainClient(), ts.base+"/streams", nil)
	if strings.Contains(seen.String()+body+logs.String(), testPassword) {
		t.Errorf("the password shows in an answer, a message or the log:\n%s\n%s\n%s", &seen, body, logs)
	}
}

// TestNamedOnly: with -urls=false pages play named streams only.
func TestNamedOnly(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "demo", URL: "demo://"}}, func(c *Config) { c.URLs = new(bool) })
	expectClose(t, ts.liveURL("demo://"), closeForbidden, "-urls=false")
	expectClose(t, ts.ws+"/live", closeBadRequest, "missing src parameter")
	c := dial(t, ts.ws+"/live?src=demo")
	if m := readUntil(t, c, "init"); m.Type != "init" {
		t.Errorf("src=demo: %+v, want an init", m)
	}
	if status, _, _, msg := getSnapshot(t, ts, "url=demo://", nil); status != 403 {
		t.Errorf("/snapshot?url= with -urls=false: %d %q, want 403", status, msg)
	}
}
