package main

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// webFiles are the browser assets, built into the binary so that decoder is
// one file with nothing to install beside it.
//
//go:embed web
var webFiles embed.FS

var webRoot, _ = fs.Sub(webFiles, "web")

// indexPage is the built-in page, rendered once with the version.
type indexPage struct{ html []byte }

func newIndexPage() (*indexPage, error) {
	t, err := template.ParseFS(webRoot, "index.html")
	if err != nil {
		return nil, err
	}
	// The name 解码器 as outlines (testdata/make-logo.py), inline so that
	// it shows without a CJK font and without another request.
	logo, err := fs.ReadFile(webRoot, "logo.svg")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	data := struct {
		Version string
		Logo    template.HTML
	}{Version, template.HTML(bytes.TrimSpace(logo))}
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return &indexPage{html: b.Bytes()}, nil
}

// denyFraming keeps other sites from framing decoder's pages, where a
// page could dress them up to have Play or Stop clicked (clickjacking).
// X-Frame-Options is for browsers that predate frame-ancestors.
func denyFraming(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
}

func (p *indexPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	denyFraming(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(p.html)
}

// startTime dates the embedded assets for conditional requests.
var startTime = time.Now()

// serveAsset serves a file of web/ or a 404 in the envelope; none of them
// may be framed either (logo.svg is a document when opened by itself).
func serveAsset(w http.ResponseWriter, r *http.Request) {
	denyFraming(w.Header())
	name := path.Clean(r.URL.Path)[1:]
	if name == "icon.png" {
		w.Header().Set("Content-Type", "image/png")
		w.Write(iconPNG())
		return
	}
	data, err := fs.ReadFile(webRoot, name)
	if err != nil || name == "index.html" {
		handleNotFound(w, r)
		return
	}
	if strings.HasSuffix(name, ".d.ts") {
		// The player's types, to read or save: by its extension alone,
		// the system's MIME table may call it an MPEG transport stream.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	http.ServeContent(w, r, name, startTime, bytes.NewReader(data))
}
