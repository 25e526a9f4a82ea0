package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// forgeToken signs claims as an attacker might: with method and key.
func forgeToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsFor are the claims of a token for streams, valid from iat to exp.
func claimsFor(streams []string, iat, exp time.Time) viewerClaims {
	return viewerClaims{Streams: streams, RegisteredClaims: jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{tokenAudience}, IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}}
}

// rs256WithHMACKey is the algorithm-confusion attack: a token that says
// RS256 and is signed with HMAC-SHA256 under the HMAC key, as a verifier
// that took the key for an RSA public key would check it.
func rs256WithHMACKey(secret []byte, claims viewerClaims) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims)
	input := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

// unlimited lets a test's peer refuse as many tokens as it needs.
func unlimited(ts *testServer) {
	l := ts.access.limiter
	l.mu.Lock()
	l.burst = 1 << 20
	l.mu.Unlock()
}

// TestTokens: an expired, forged, unsigned or algorithm-confused token is
// refused with 401 (4401 on /live) and why; none of them reaches the log.
func TestTokens(t *testing.T) {
	ts, logs := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, nil)
	unlimited(ts)
	key, err := ts.access.keys.ensure()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := claimsFor([]string{"front-door"}, now, now.Add(time.Hour))
	noAudience := good
	noAudience.Audience = nil
	noExpiry := good
	noExpiry.ExpiresAt = nil
	bad := []struct{ name, token, why string }{
		{"expired", forgeToken(t, jwt.SigningMethodHS256, key.secret, claimsFor([]string{"front-door"}, now.Add(-2*time.Hour), now.Add(-time.Minute))), "expired"},
		{"wrong signature", forgeToken(t, jwt.SigningMethodHS256, []byte("not decoder's key, but 32 bytes!"), good), "not signed by this decoder's key"},
		{"alg none", forgeToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), "not signed by this decoder's key"},
		{"RS256 with the HMAC key", rs256WithHMACKey(key.secret, good), "not signed by this decoder's key"},
		{"HS512", forgeToken(t, jwt.SigningMethodHS512, key.secret, good), "not signed by this decoder's key"},
		{"not for decoder", forgeToken(t, jwt.SigningMethodHS256, key.secret, noAudience), "not a decoder viewer token"},
		{"no expiry", forgeToken(t, jwt.SigningMethodHS256, key.secret, noExpiry), "not a decoder viewer token"},
		{"malformed", "eyJhbGciOi.garbage", "malformed"},
		{"too long", strings.Repeat("a", maxTokenBytes+1), "too long"},
	}
	client := plainClient()
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			q := "src=front-door&token=" + url.QueryEscape(tc.token)
			expectClose(t, ts.ws+"/live?"+q, closeUnauthorized, tc.why)
			if status, body := getJSON(t, client, ts.base+"/streams?"+q, nil); status != 401 || !strings.Contains(body, tc.why) {
				t.Errorf("/streams: %d %s, want 401 and %q", status, body, tc.why)
			}
			if status, _, _, msg := getSnapshot(t, ts, q, nil); status != 401 {
				t.Errorf("/snapshot: %d %q, want 401", status, msg)
			}
		})
	}

	for _, tc := range bad {
		if strings.Contains(logs.String(), tc.token) {
			t.Errorf("the log holds the %s token", tc.name)
		}
	}
}

// TestTokenValid: a valid token plays the stream it names and nothing
// else; the log names its holder, never the token.
func TestTokenValid(t *testing.T) {
	ts, logs := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, nil)
	valid, _, err := ts.access.keys.sign([]string{"front-door"}, time.Hour, "phone")
	if err != nil {
		t.Fatal(err)
	}
	q := "&token=" + url.QueryEscape(valid)
	readUntil(t, dial(t, ts.ws+"/live?src=front-door"+q), "init")
	expectClose(t, ts.ws+"/live?src=garage"+q, closeForbidden, `not for "garage"`)
	expectClose(t, ts.liveURL("demo://")+q, closeForbidden, "for front-door only")
	if status, _, _, msg := getSnapshot(t, ts, "src=garage"+q, nil); status != 403 {
		t.Errorf("/snapshot of a stream the token does not name: %d %q, want 403", status, msg)
	}
	if status, _ := getJSON(t, plainClient(), ts.base+"/config?"+q[1:], nil); status != 403 {
		t.Errorf("/config with a viewer token: %d, want 403", status)
	}
	if strings.Contains(logs.String(), valid) || strings.Contains(logs.String(), strings.Split(valid, ".")[2]) {
		t.Error("the log holds the valid token")
	}
	if !strings.Contains(logs.String(), `msg="viewer link used" name=phone`) {
		t.Errorf("the log does not name the token's holder:\n%s", logs)
	}
}

// TestTokenScope: /streams shows a token that names streams only those
// streams, and /snapshot?id= only theirs.
func TestTokenScope(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "front-door", URL: "demo://"}, {Name: "garage", URL: "demo://"}}, nil)
	for _, name := range []string{"front-door", "garage"} {
		keepReading(t, dial(t, ts.ws+"/live?src="+name))
	}
	waitFor(t, 5*time.Second, "three streams", func() bool { return len(ts.hub.Streams()) == 3 })
	tok, _, _ := ts.access.keys.sign([]string{"front-door"}, time.Hour, "")
	_, body := getJSON(t, plainClient(), ts.base+"/streams?token="+tok, nil)
	var list struct{ Data []streamInfo }
	json.Unmarshal([]byte(body), &list)
	if len(list.Data) != 1 || list.Data[0].Name != "front-door" {
		t.Fatalf("/streams for a front-door token: %s, want front-door alone", body)
	}
	for _, s := range ts.hub.Streams() {
		status, _, _, _ := getSnapshot(t, ts, "id="+s.ID+"&token="+tok, nil)
		if want := map[bool]int{true: 200, false: 404}[s.Name == "front-door"]; status != want && !(want == 200 && status >= 500) {
			t.Errorf("/snapshot?id= of %s %s: %d, want %d", s.Name, s.URL, status, want)
		}
	}
}

// TestTokenRevoked: decoder token -rotate's new key refuses the tokens of
// the old one and ends the sessions they opened with 4401; a token that
// expires mid-stream ends its session the same way.
func TestTokenRevoked(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "cam", URL: "demo://"}}, nil)
	keys := ts.access.keys
	short, _, _ := keys.sign([]string{"*"}, 2*time.Second, "")
	long, _, _ := keys.sign([]string{"*"}, time.Hour, "")
	expiring, watching := follow(t, dial(t, ts.ws+"/live?src=cam&token="+short)), follow(t, dial(t, ts.ws+"/live?src=cam&token="+long))
	closed := func(l *viewerLog) viewerEvent {
		t.Helper()
		isClose := func(e viewerEvent) bool { return e.kind == "close" }
		waitFor(t, 5*time.Second, "the session to close", func() bool { return l.find(0, isClose) >= 0 })
		events := l.since(0)
		if len(events) < 2 || events[len(events)-2].kind != "error" || l.find(0, func(e viewerEvent) bool { return e.kind == "video" }) < 0 {
			t.Errorf("the session played nothing or was closed without an error message: %+v", events)
		}
		return events[len(events)-2]
	}
	if e := closed(expiring); !strings.Contains(e.reason, "expired") {
		t.Errorf("a session whose token expired heard %+v, want why", e)
	}
	if i := expiring.find(0, func(e viewerEvent) bool { return e.kind == "close" }); expiring.since(i)[0].code != closeUnauthorized {
		t.Errorf("a session whose token expired was closed %d, want 4401", expiring.since(i)[0].code)
	}
	if l := watching.since(0); l[len(l)-1].kind == "close" {
		t.Fatalf("the session of a valid token ended: %+v", l)
	}
	if _, err := runTokenRotate(t, keys.path); err != nil {
		t.Fatal(err)
	}
	if e := closed(watching); !strings.Contains(e.reason, "revoked") {
		t.Errorf("a session whose key was rotated heard %+v, want why", e)
	}
	if i := watching.find(0, func(e viewerEvent) bool { return e.kind == "close" }); watching.since(i)[0].code != closeUnauthorized {
		t.Errorf("a session whose key was rotated was closed %d, want 4401", watching.since(i)[0].code)
	}
	expectClose(t, ts.ws+"/live?src=cam&token="+long, closeUnauthorized, "decoder token -rotate")
}

// runTokenRotate runs decoder token -rotate for the key at path, as a
// user beside a running decoder would.
func runTokenRotate(t testing.TB, path string) (string, error) {
	t.Helper()
	k, err := newTokenKeys(path)
	if err != nil {
		return "", err
	}
	_, err = k.rotate()
	return path, err
}

// TestTokenRateLimit: a peer that has had ten tokens refused is refused
// (429) even with a valid one, until its allowance comes back.
func TestTokenRateLimit(t *testing.T) {
	ts, _ := startNamedServer(t, []namedConfig{{Name: "cam", URL: "demo://"}}, nil)
	valid, _, _ := ts.access.keys.sign([]string{"cam"}, time.Hour, "")
	client := plainClient()
	for i := range failBurst {
		if status, _ := getJSON(t, client, ts.base+"/streams?token=guess"+string(rune('a'+i)), nil); status != 401 {
			t.Fatalf("guess %d: %d, want 401", i, status)
		}
	}
	status, body := getJSON(t, client, ts.base+"/streams?token="+valid, nil)
	if status != 429 || !strings.Contains(body, "too many refused tokens") {
		t.Errorf("a valid token after %d refused: %d %s, want 429", failBurst, status, body)
	}
	expectClose(t, ts.ws+"/live?src=cam&token="+valid, closeTooMany, "too many refused tokens")
	if status, _ := getJSON(t, client, ts.base+"/streams", nil); status != 200 {
		t.Errorf("this machine without a token while limited: %d, want 200", status)
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": maxLinkTTL} {
		if got, err := parseTTL(in, maxLinkTTL); got != want || err != nil {
			t.Errorf("parseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "31d", "30s", "-1h", "1.5d", "d"} {
		if _, err := parseTTL(in, maxLinkTTL); err == nil {
			t.Errorf("parseTTL(%q) accepted", in)
		}
	}
}
