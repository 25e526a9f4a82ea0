package main

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestWebFramingDenied: no other site may frame the dashboard (or any file
// beside it, or the 404 page) to have its buttons clicked unseen; both the
// old header and the CSP directive say so.
func TestWebFramingDenied(t *testing.T) {
	h := testHandler(t, nil)
	for _, path := range []string{"/", "/decoder.js", "/logo.svg", "/icon.png", "/nothing-here"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest("GET", path))
		if path != "/nothing-here" && rec.Code != 200 {
			t.Errorf("GET %s: status %d, want 200", path, rec.Code)
		}
		if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, got)
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != "frame-ancestors 'none'" {
			t.Errorf("GET %s: Content-Security-Policy %q, want frame-ancestors 'none'", path, got)
		}
	}
}

// TestWebLogo: the page's title carries the name 解码器 as an inline SVG of
// outlines, named for assistive technology, so that it shows on machines
// without a CJK font; the Latin name follows it as text.
func TestWebLogo(t *testing.T) {
	rec := httptest.NewRecorder()
	testHandler(t, nil).ServeHTTP(rec, localRequest("GET", "/"))
	page := rec.Body.String()
	h1 := regexp.MustCompile(`(?s)<h1>(.*?)</h1>`).FindStringSubmatch(page)
	if h1 == nil {
		t.Fatalf("no <h1> on the page:\n%s", page)
	}
	svg := regexp.MustCompile(`(?s)^<svg [^>]*>.*?</svg>`).FindString(h1[1])
	if svg == "" {
		t.Fatalf("the <h1> does not start with an inline SVG: %.200s", h1[1])
	}
	open := svg[:strings.Index(svg, ">")+1]
	for _, attr := range []string{`role="img"`, `aria-label="解码器"`, `fill="currentColor"`, `viewBox="0 0 3000 1000"`} {
		if !strings.Contains(open, attr) {
			t.Errorf("the logo's <svg> lacks %s: %s", attr, open)
		}
	}
	if !strings.Contains(svg, "<title>解码器</title>") {
		t.Error("the logo has no <title>解码器</title>")
	}
	if !strings.Contains(svg, "SIL Open Font License 1.1") {
		t.Error("the logo does not name the font's licence")
	}
	// Outlines, not text that would need a font: one path per glyph.
	if strings.Contains(svg, "<text") {
		t.Error("the logo draws text, which needs a CJK font")
	}
	paths := regexp.MustCompile(`<path d="M[-0-9 MLHVCQZ]{100,}"/>`).FindAllString(svg, -1)
	if len(paths) != 3 {
		t.Errorf("the logo has %d glyph outlines, want 3", len(paths))
	}
	if rest := strings.TrimSpace(h1[1][len(svg):]); !strings.HasPrefix(rest, "decoder <small>") {
		t.Errorf("the logo is not followed by the name decoder: %.100s", rest)
	}
}

// TestWebPlayerModules: every module of the player that decoder.js
// imports, directly or through another, is served as JavaScript (a
// browser refuses a module of another type), and the types beside them
// as text, whatever the system's MIME table says of .ts.
func TestWebPlayerModules(t *testing.T) {
	h := testHandler(t, nil)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, localRequest("GET", path))
		return rec
	}
	seen := map[string]bool{}
	queue := []string{"decoder.js"}
	imports := regexp.MustCompile(`(?m)^(?:import|export) .* from '\./([a-z-]+\.js)';$`)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		rec := get("/" + name)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("GET /%s: %d %q, want 200 and JavaScript", name, rec.Code, rec.Header().Get("Content-Type"))
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(rec.Body.String(), -1) {
			queue = append(queue, m[1])
		}
	}
	for _, name := range []string{"player.js", "media.js", "codecs.js", "decoder-stream.js"} {
		if !seen[name] {
			t.Errorf("decoder.js does not lead to %s (found %v)", name, seen)
		}
	}
	rec := get("/decoder.d.ts")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
		!strings.Contains(rec.Body.String(), "'decoder-stream': DecoderStream;") {
		t.Errorf("GET /decoder.d.ts: %d %q, want 200, text and the element's types", rec.Code, rec.Header().Get("Content-Type"))
	}
}
