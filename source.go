package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// newProducerFunc checks a source URL and returns its producer. Its error is
// shown to the user: it says which part of the URL is wrong and why, and
// never repeats the URL, which may hold credentials.
type newProducerFunc func(src *url.URL, opts sourceOptions) (Producer, error)

// sourceOptions is what a producer is given besides its URL.
type sourceOptions struct {
	cfg SourceConfig
	// transport is how an RTSP source carries media: "tcp" or "udp".
	transport string
}

// producerSchemes picks a producer by the source URL's scheme. A new kind of
// source is a source_*.go file with its producer and one line here.
var producerSchemes = map[string]newProducerFunc{
	"demo":      newDemoProducer,
	"demo-text": newDemoTextProducer,
	"file":      newFileProducer,
	"rtsp":      newRTSPProducer,
	"rtsps":     newRTSPProducer,
}

// supportedSchemes lists producerSchemes for error messages.
func supportedSchemes() string {
	names := make([]string, 0, len(producerSchemes))
	for name := range producerSchemes {
		names = append(names, name+"://")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// source is a checked request for a source.
type source struct {
	// key is what viewers of the same source share it under: the
	// normalised URL and the options that change what is pulled.
	key string
	// display is key with credentials masked, for logs and /streams.
	display  string
	producer Producer
}

// sourceExample ends the messages about a missing or unusable url.
const sourceExample = "use /live?url=rtsp://camera/stream or /live?url=demo://"

// parseSource checks the url and transport parameters of /live and returns
// the source. Error messages never repeat the URL.
func parseSource(q url.Values, cfg SourceConfig) (source, error) {
	raw := q.Get("url")
	if raw == "" {
		return source{}, badSource(closeBadRequest, "missing url parameter: "+sourceExample)
	}
	src, err := parseSourceURL(raw)
	if err != nil {
		return source{}, err
	}
	newProducer, ok := producerSchemes[src.Scheme]
	if !ok {
		return source{}, badSource(closeUnsupportedScheme, fmt.Sprintf("unsupported source scheme %q; decoder plays %s", src.Scheme, supportedSchemes()))
	}
	opts := sourceOptions{cfg: cfg, transport: q.Get("transport")}
	isRTSP := src.Scheme == "rtsp" || src.Scheme == "rtsps"
	switch {
	case opts.transport == "" && isRTSP:
		opts.transport = "tcp"
	case opts.transport != "" && !isRTSP:
		return source{}, badSource(closeBadRequest, "the transport parameter applies to rtsp:// sources only")
	case isRTSP && opts.transport != "tcp" && opts.transport != "udp":
		return source{}, badSource(closeBadRequest, fmt.Sprintf("transport must be tcp or udp, got %q", opts.transport))
	}
	p, err := newProducer(src, opts)
	if err != nil {
		return source{}, badSource(closeBadRequest, "invalid "+src.Scheme+" source: "+err.Error())
	}
	norm := normalURL(src)
	s := source{key: formatURL(norm), display: maskURL(norm), producer: p}
	if opts.transport == "udp" {
		s.key += " (udp)"
		s.display += " (udp)"
	}
	return s, nil
}

// parseSourceURL parses a source URL as its producer will use it: scheme and
// host in lower case, no fragment, the query exactly as given (a camera may
// care about its order or its separators).
func parseSourceURL(raw string) (*url.URL, error) {
	if misplacedAt(raw) {
		return nil, badSource(closeBadRequest, "the source URL has an @ after a /, ? or #: if it is rtsp://user:password@camera/…, percent-encode the special characters of the user and password (/ as %2F, ? as %3F, # as %23, @ as %40)")
	}
	src, err := url.Parse(raw)
	if err != nil {
		return nil, badSource(closeBadRequest, "url parameter is not a valid URL ("+urlProblem(err)+"): "+sourceExample)
	}
	if src.Scheme == "" || src.Opaque != "" {
		return nil, badSource(closeBadRequest, "url parameter must be an absolute URL such as rtsp://camera/stream")
	}
	if p := src.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, badSource(closeBadRequest, "the source URL's port must be from 1 to 65535")
		}
	}
	src.Scheme = strings.ToLower(src.Scheme)
	src.Host = strings.ToLower(src.Host)
	src.Fragment, src.RawFragment = "", ""
	return src, nil
}

// misplacedAt reports whether raw has an @ after the end of its authority
// while the authority has none: a user or password holding an unescaped /,
// ? or #, which a URL parser would split so that part of the password shows
// up as the host or the query. Such URLs are refused rather than guessed at.
func misplacedAt(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 || strings.Contains(rest[:end], "@") {
		return false
	}
	return strings.Contains(rest[end:], "@")
}

// urlProblem says what url.Parse found wrong without quoting the URL, which
// may hold credentials; only an invalid %-escape (three characters) is
// shown.
func urlProblem(err error) string {
	var esc url.EscapeError
	var host url.InvalidHostError
	switch {
	case errors.As(err, &esc):
		return "invalid %-escape " + strconv.Quote(string(esc))
	case errors.As(err, &host):
		return "invalid character in the host"
	case strings.Contains(err.Error(), "port"):
		return "the port is not a number"
	case strings.Contains(err.Error(), "control character"):
		return "it holds control characters"
	}
	return "it cannot be parsed"
}

// normalURL is the URL viewers of one source share it under: the same
// whatever the case of scheme and host (done by parseSourceURL), the order
// of query parameters, or the fragment.
func normalURL(src *url.URL) *url.URL {
	n := *src
	if q, err := url.ParseQuery(n.RawQuery); err == nil {
		n.RawQuery = q.Encode()
	}
	return &n
}

// formatURL is u.String that keeps "//" before an empty host, so that
// demo-text://?interval=1s reads as typed rather than demo-text:?interval=1s.
func formatURL(u *url.URL) string {
	s := u.String()
	if u.Host == "" && u.User == nil && !strings.HasPrefix(s, u.Scheme+"://") {
		s = u.Scheme + "://" + strings.TrimPrefix(s, u.Scheme+":")
	}
	return s
}

// secretQueryKey matches the query parameters that cameras and services use
// for credentials, the one-letter ones (p=, u=, c=, k=) included.
var secretQueryKey = regexp.MustCompile(`(?i)pass|pwd|psw|token|secret|key|auth|sig|user|usr|cred|login|session|^sid$|^[pcuk]$`)

// secretPathValue matches a password written into the path, as some cameras
// take it: /user=admin_password=1234_channel=1.
var secretPathValue = regexp.MustCompile(`(?i)((?:pass(?:word)?|pwd|psw)=)[^&;_/?]*`)

// maskURL returns u as it may be logged or shown: user and password replaced
// by ***, and so are query values whose key looks like a credential and
// passwords written into the path.
func maskURL(u *url.URL) string {
	m := *u
	if m.User != nil {
		m.User = url.User("***")
	}
	m.RawQuery = maskQuery(m.RawQuery)
	if secretPathValue.MatchString(m.Path) {
		m.Path = secretPathValue.ReplaceAllString(m.Path, "${1}***")
		m.RawPath = ""
	}
	return strings.ReplaceAll(formatURL(&m), "%2A%2A%2A", "***")
}

// maskQuery masks the values of secret-looking keys in a raw query, with
// & or ; between parameters, keeping everything else as written.
func maskQuery(raw string) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	for raw != "" {
		i := strings.IndexAny(raw, "&;")
		part, sep := raw, ""
		if i >= 0 {
			part, sep, raw = raw[:i], raw[i:i+1], raw[i+1:]
		} else {
			raw = ""
		}
		key, _, hasValue := strings.Cut(part, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if hasValue && secretQueryKey.MatchString(name) {
			part = key + "=***"
		}
		b.WriteString(part)
		b.WriteString(sep)
	}
	return b.String()
}

// urlSecrets lists the credentials in u that error texts must never show:
// the user and password, secret-looking query values and passwords in the
// path. Very short ones are left out: replacing them would mangle the text
// around them ("1" in every address), and no message decoder writes repeats
// them.
func urlSecrets(u *url.URL) []string {
	const minSecret = 3
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecret {
			secrets = append(secrets, s)
		}
	}
	if u.User != nil {
		add(u.User.Username())
		pw, _ := u.User.Password()
		add(pw)
		// As written in the URL, percent-encoded, which is how a library
		// quoting the URL would show it.
		name, escapedPW, _ := strings.Cut(u.User.String(), ":")
		add(name)
		add(escapedPW)
	}
	if q, err := url.ParseQuery(strings.ReplaceAll(u.RawQuery, ";", "&")); err == nil {
		for k, vs := range q {
			if secretQueryKey.MatchString(k) {
				for _, v := range vs {
					add(v)
				}
			}
		}
	}
	for _, m := range secretPathValue.FindAllStringSubmatch(u.Path, -1) {
		add(strings.TrimPrefix(m[0], m[1]))
	}
	return secrets
}

// sourceQuery parses a source URL's parameters for a producer that takes
// some, refusing what it cannot read rather than dropping it.
func sourceQuery(src *url.URL) (url.Values, error) {
	q, err := url.ParseQuery(src.RawQuery)
	if err != nil {
		return nil, errors.New("its parameters cannot be read: separate them with & and percent-encode their values")
	}
	return q, nil
}
