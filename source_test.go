package main

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestParseSource: how a source URL is checked, shared, shown and kept
// from leaking its credentials.
func TestParseSource(t *testing.T) {
	cfg := testLiveConfig().Sources
	cases := []struct {
		name, url, transport string
		code                 int    // close code; 0 when valid
		reason               string // in the error
		key, display         string
	}{
		{name: "camera", url: "rtsp://admin:s3cret@Camera.lan:554/stream?channel=1", key: "rtsp://admin:s3cret@camera.lan:554/stream?channel=1", display: "rtsp://***@camera.lan:554/stream?channel=1"},
		{name: "query order and fragment", url: "demo-text://?size=10&interval=1s#x", key: "demo-text://?interval=1s&size=10", display: "demo-text://?interval=1s&size=10"},
		{name: "udp", url: "rtsp://cam/s", transport: "udp", key: "rtsp://cam/s (udp)", display: "rtsp://cam/s (udp)"},
		{name: "secret query keys", url: "rtsp://cam/s?user=admin&p=pw1&c=pw2&psw=pw3&password=pw4&token=pw5&channel=1&subtype=0",
			display: "rtsp://cam/s?c=***&channel=1&p=***&password=***&psw=***&subtype=0&token=***&user=***"},
		{name: "semicolon parameters kept", url: "rtsp://cam/s?a=1;pwd=pw1;b=2", key: "rtsp://cam/s?a=1;pwd=pw1;b=2", display: "rtsp://cam/s?a=1;pwd=***;b=2"},
		{name: "password in the path", url: "rtsp://cam/user=admin_password=pw1_channel=1_stream=0.sdp", display: "rtsp://cam/user=admin_password=***_channel=1_stream=0.sdp"},
		{name: "password with ?", url: "rtsp://admin:12?secret@cam/stream", code: closeBadRequest, reason: "percent-encode"},
		{name: "password with /", url: "rtsp://admin:pa/ss@cam/stream", code: closeBadRequest, reason: "percent-encode"},
		{name: "password with #", url: "rtsp://admin:pa#ss@cam/stream", code: closeBadRequest, reason: "percent-encode"},
		{name: "encoded password", url: "rtsp://admin:pa%2Fss%3F%23@cam/stream", display: "rtsp://***@cam/stream"},
		{name: "port too large", url: "rtsp://cam:99999/stream", code: closeBadRequest, reason: "port must be from 1 to 65535"},
		{name: "port zero", url: "rtsp://cam:0/stream", code: closeBadRequest, reason: "port must be from 1 to 65535"},
		{name: "bad port", url: "rtsp://admin@cam:pw/stream", code: closeBadRequest, reason: "the port is not a number"},
		{name: "bad escape", url: "rtsp://cam/%zz", code: closeBadRequest, reason: `invalid %-escape "%zz"`},
		{name: "bad escape in parameters", url: "demo-text://?interval=%zz", code: closeBadRequest, reason: "parameters cannot be read"},
		{name: "demo-text too fast", url: "demo-text://?interval=1ms&size=1048576", code: closeBadRequest, reason: "MB/s"},
		{name: "unknown scheme", url: "gopher://admin:s3cret@host/", code: closeUnsupportedScheme, reason: "unsupported source scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"url": {tc.url}}
			if tc.transport != "" {
				q.Set("transport", tc.transport)
			}
			src, err := parseSource(q, cfg)
			if tc.code != 0 {
				var ce *closeError
				if !errors.As(err, &ce) || ce.code != tc.code || !strings.Contains(ce.reason, tc.reason) {
					t.Fatalf("error %v, want %d with %q", err, tc.code, tc.reason)
				}
				for _, secret := range []string{"secret", "s3cret", "pa/ss", "pa#ss", "admin", ":pw"} {
					if strings.Contains(ce.reason, secret) {
						t.Errorf("reason %q shows the credentials", ce.reason)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" && src.key != tc.key {
				t.Errorf("key %q, want %q", src.key, tc.key)
			}
			if src.display != tc.display {
				t.Errorf("display %q, want %q", src.display, tc.display)
			}
			for _, pw := range []string{"s3cret", "pw1", "pw2", "pw3", "pw4", "pw5"} {
				if strings.Contains(src.display, pw) {
					t.Errorf("display %q shows %s", src.display, pw)
				}
			}
		})
	}
}

// TestURLSecrets: what error texts are scrubbed of.
func TestURLSecrets(t *testing.T) {
	u, _ := url.Parse("rtsp://admin:p%40ss%2Fword@cam/user=x_password=inpath/s?pwd=inquery;channel=1&p=ab")
	got := urlSecrets(u)
	for _, want := range []string{"admin", "p@ss/word", "p%40ss%2Fword", "inpath", "inquery"} {
		if !slices.Contains(got, want) {
			t.Errorf("secrets %q lack %q", got, want)
		}
	}
	for _, notSecret := range []string{"1", "ab", "cam"} {
		if slices.Contains(got, notSecret) {
			t.Errorf("secrets %q hold %q", got, notSecret)
		}
	}
}
