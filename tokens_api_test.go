package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postTokens sends POST /tokens with body and headers, and returns the
// status and the envelope's link, or its message.
func postTokens(t testing.TB, ts *testServer, body string, header map[string]string) (int, viewerLink, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.base+"/tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := plainClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Code    int
		Message string
		Data    viewerLink
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &env); err != nil || env.Code != resp.StatusCode {
		t.Fatalf("POST /tokens: %d outside the envelope: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, env.Data, env.Message
}

// TestTokensAPI: the dashboard (same origin, or no Origin) gets a viewer
// link with its QR code, for a stream or for all; the link's token plays
// what it names.
func TestTokensAPI(t *testing.T) {
	ts, logs := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, nil)
	status, link, msg := postTokens(t, ts, `{"streams":["front-door"],"ttl":"2h","name":"phone"}`, map[string]string{"Origin": ts.base, "Sec-Fetch-Site": "same-origin"})
	if status != 200 {
		t.Fatalf("POST /tokens from the dashboard: %d %q", status, msg)
	}
	u, err := url.Parse(link.URL)
	if err != nil || u.Query().Get("token") != link.Token || u.Query().Get("src") != "front-door" || u.Path != "/" {
		t.Errorf("link %q, want decoder's page with the token and src=front-door", link.URL)
	}
	if lan := lanIP(); lan != "" && u.Hostname() != lan {
		t.Errorf("link host %s, want this machine's LAN address %s", u.Hostname(), lan)
	}
	if !strings.Contains(link.Warning, "-addr 0.0.0.0") {
		t.Errorf("a link from a decoder on loopback warns %q, want that phones cannot reach it", link.Warning)
	}
	exp, err := time.Parse(time.RFC3339, link.ExpiresAt)
	if err != nil || exp.Sub(time.Now()) < 119*time.Minute || exp.Sub(time.Now()) > 2*time.Hour {
		t.Errorf("expires_at %q, want in 2 h", link.ExpiresAt)
	}
	pngData, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(link.QR, "data:image/png;base64,"))
	if img, perr := png.Decode(bytes.NewReader(pngData)); err != nil || perr != nil || img.Bounds().Dx() < 200 {
		t.Errorf("qr is not a PNG data URL of a code: %v %v", err, perr)
	}
	readUntil(t, dial(t, ts.ws+"/live?src=front-door&token="+link.Token), "init")
	expectClose(t, ts.ws+"/live?src=garage&token="+link.Token, closeForbidden, "front-door")

	status, all, _ := postTokens(t, ts, `{"streams":["*"]}`, nil)
	if q, _ := url.Parse(all.URL); status != 200 || strings.Join(q.Query()["src"], ",") != "front-door,garage" || q.Query().Get("wall") != "4" {
		t.Errorf("a link for every stream: %d %s, want a wall of both", status, all.URL)
	}

	if strings.Contains(logs.String(), link.Token) || !strings.Contains(logs.String(), "viewer link given") {
		t.Errorf("the log holds the token, or does not say a link was given:\n%s", logs)
	}
}

// TestTokensAPIRefusals: other pages, viewer tokens, bad bodies and
// unknown streams get no link, and hear why.
func TestTokensAPIRefusals(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}}, nil)
	tok, _, _ := ts.access.keys.sign([]string{"*"}, time.Hour, "")
	for _, tc := range []struct {
		name, body string
		header     map[string]string
		status     int
		want       string
	}{
		{"another origin", `{"streams":["*"]}`, map[string]string{"Origin": "http://localhost:5173"}, 403, "decoder's own dashboard"},
		{"another site", `{"streams":["*"]}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "decoder's own dashboard"},
		{"a viewer token", `{"streams":["*"]}`, map[string]string{"Authorization": "Bearer " + tok}, 403, "without a token"},
		{"not JSON", `streams=*`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "JSON"},
		{"bad JSON", `{"streams":"*"}`, nil, 400, "the body must be JSON"},
		{"unknown field", `{"streams":["*"],"admin":true}`, nil, 400, "unknown field"},
		{"no streams", `{"streams":[]}`, nil, 400, "name the streams"},
		{"unknown stream", `{"streams":["back-door"]}`, nil, 400, `no stream named "back-door"`},
		{"ttl too long", `{"streams":["*"],"ttl":"31d"}`, nil, 400, "ttl must be from 1m to 30d"},
		{"bad ttl", `{"streams":["*"],"ttl":"soon"}`, nil, 400, "not a duration"},
		{"bad name", `{"streams":["*"],"name":"a\u0000b"}`, nil, 400, "printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, msg := postTokens(t, ts, tc.body, tc.header); status != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %q, want %d and %q", status, msg, tc.status, tc.want)
			}
		})
	}
}

// TestTokenCommand: decoder token prints a token and its link for a
// stream of the config file, with a key it makes at first use (mode
// 0600); -rotate makes a new key that refuses the old tokens.
func TestTokenCommand(t *testing.T) {
	config := writeConfig(t, "addr: 0.0.0.0:3456\nstreams:\n  front-door: demo://\n")
	home := t.TempDir()
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(decoderBinary(t), append([]string{"token", "-config", config}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	}
	out, errOut, code := run("-stream", "front-door", "-ttl", "1h", "-name", "phone")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[1], ":3456/?token="+url.QueryEscape(lines[0])+"&src=front-door") || !strings.Contains(errOut, "valid until") {
		t.Fatalf("decoder token: exit %d\n%s\n%s", code, out, errOut)
	}
	keyPath := filepath.Join(home, "decoder", tokenKeyFile)
	if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the key file: %v %v, want mode 0600", st, err)
	}
	keys, _ := newTokenKeys(keyPath)
	if claims, err := keys.verify(lines[0]); err != nil || claims.Subject != "phone" || !claims.allows("front-door") || claims.allows("garage") {
		t.Errorf("the printed token: %+v %v", claims, err)
	}
	for args, want := range map[string]string{"-stream back-door": `no stream named "back-door"`, "": "say which streams", "-stream * -ttl 400d": "ttl must be"} {
		if _, errOut, code := run(strings.Fields(args)...); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("decoder token %s: exit %d %q, want 1 and %q", args, code, errOut, want)
		}
	}
	if _, errOut, code := run("-rotate"); code != 0 || !strings.Contains(errOut, "no longer works") {
		t.Errorf("decoder token -rotate: exit %d %q", code, errOut)
	}
	if _, err := keys.verify(lines[0]); err == nil {
		t.Error("a token of the old key still verifies after -rotate")
	}
}

// TestForgetTokenKey: decoder forget removes the token key, and decoder's
// config directory once it is empty, but never the config file.
func TestForgetTokenKey(t *testing.T) {
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_RUNTIME_DIR=" + t.TempDir()}
	decoder := func(args ...string) string {
		cmd := exec.Command(decoderBinary(t), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("decoder %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dir := filepath.Join(home, "decoder")
	decoder("token", "-rotate")
	if out := decoder("forget"); !strings.Contains(out, "removed the token key "+filepath.Join(dir, tokenKeyFile)) {
		t.Errorf("forget said %q, want the token key removed", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("decoder's config directory is left: %v", err)
	}
	decoder("token", "-rotate")
	os.WriteFile(filepath.Join(dir, configFileName), []byte("streams:\n  cam: demo://\n"), 0o600)
	decoder("forget")
	if _, err := os.Stat(filepath.Join(dir, configFileName)); err != nil {
		t.Errorf("forget took the config file: %v", err)
	}
}
