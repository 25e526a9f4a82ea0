package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Who may do what. A request from this machine (a loopback peer) may do
// anything, as before tokens existed; a request from another machine must
// carry a valid viewer token: ?token= (browsers cannot set headers on a
// WebSocket), "Authorization: Bearer", or the cookie decoder's page sets
// from its own ?token=. A token given from this machine is checked too, so
// that a viewer link can be tried here before it is sent to a phone.

// tokenCookie carries a viewer's token on the requests of decoder's page.
const tokenCookie = "decoder_token"

// accessPolicy decides what each request may do.
type accessPolicy struct {
	// proxies says who a request comes from, and so whether it comes
	// from this machine, behind a reverse proxy.
	proxies proxyPolicy
	keys    *tokenKeys
	names   *namedStreams
	limiter *failLimiter
	log     *slog.Logger
	// urls lets pages play source URLs (url=), not only named streams.
	urls bool
	// open is -insecure-no-auth: every peer may do anything.
	open bool
	// secure marks the cookie Secure: decoder serves over TLS.
	secure bool
}

// newAccessPolicy reads the token key, and refuses to let decoder listen
// beyond this machine without one unless -insecure-no-auth says so.
func newAccessPolicy(cfg Config, names *namedStreams, proxies proxyPolicy, log *slog.Logger) (*accessPolicy, error) {
	keys, err := newTokenKeys(cfg.TokenKey)
	if err != nil {
		return nil, err
	}
	p := &accessPolicy{proxies: proxies, keys: keys, names: names, limiter: newFailLimiter(), log: log,
		urls: cfg.urlsAllowed(), open: cfg.InsecureNoAuth, secure: cfg.TLSCert != ""}
	beyond := listensBeyondLoopback(cfg.Addr)
	switch {
	case cfg.InsecureNoAuth:
		log.Warn("-insecure-no-auth: anyone who can reach " + cfg.Addr + " may watch every stream and use the whole API, without a token")
	case beyond && !keys.exists():
		return nil, fmt.Errorf("decoder would listen on %s, beyond this machine, without a token key to check viewers with: run decoder token -stream NAME (or decoder token -rotate) once to make the key, or start with -insecure-no-auth to let anyone who can reach this machine watch", cfg.Addr)
	}
	return p, nil
}

// access is what one request may do: anything (trusted), what its token
// allows (claims), or nothing, for the reason denied gives.
type access struct {
	trusted bool
	claims  *viewerClaims
	denied  *closeError
	// local says the request comes from this machine (proxyPolicy.local).
	local bool
}

// accessKey finds a request's access in its context.
type accessKey struct{}

// errNoToken refuses a viewer from another machine that has no token.
var errNoToken = &closeError{code: closeUnauthorized, reason: "viewers on other machines need a viewer link with a token: ask decoder's owner for one (the dashboard's Watch on phone, or decoder token)"}

// middleware checks each request's token and puts its access in the
// request's context. Refusals are answered here in the envelope, except
// on /live, whose page could not read them: /live closes with the same
// code and reason after the upgrade. The player's files and /version need
// no token: they hold nothing private, and a page of another site that
// embeds the player loads them without decoder's cookie.
func (p *accessPolicy) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPath(r.URL.Path) || r.URL.Path == "/shutdown" {
			// Not even looked at: a cookie of a revoked token, sent with
			// every file of the page, must not count as guesses; and
			// decoder -replace's request is checked by its own rules
			// (this machine, no page, the stop token).
			next.ServeHTTP(w, r)
			return
		}
		a, tok, fromQuery := p.check(r)
		if fromQuery {
			// The page's address holds the token: it must not leave in
			// a Referer.
			w.Header().Set("Referrer-Policy", "no-referrer")
		}
		if a.denied != nil && r.URL.Path != "/live" {
			writeError(w, closeStatus(a.denied), "%s", a.denied.reason)
			return
		}
		if a.claims != nil && (r.URL.Path == "/" || r.URL.Path == "/live") {
			p.log.Info("viewer link used", "name", a.claims.holder(), "peer", p.proxies.describe(r), "path", r.URL.Path)
		}
		if a.claims != nil && fromQuery && r.URL.Path == "/" {
			p.setCookie(w, tok, a.claims)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, a)))
	})
}

// check finds the request's token and says what it allows.
func (p *accessPolicy) check(r *http.Request) (a access, tok string, fromQuery bool) {
	// Behind a trusted proxy, the client it speaks for; a proxy on this
	// machine is not this machine.
	client, _ := p.proxies.client(r)
	ip := net.IP(client.AsSlice())
	local := p.proxies.local(r)
	tok, fromQuery = requestToken(r, local)
	switch {
	case p.open, tok == "" && local:
		return access{trusted: true, local: local}, "", fromQuery
	case tok == "":
		return access{denied: errNoToken}, "", fromQuery
	}
	if wait := p.limiter.wait(ip); wait > 0 {
		return access{denied: &closeError{code: closeTooMany, reason: fmt.Sprintf("too many refused tokens from %s: wait %v", ip, wait)}}, "", fromQuery
	}
	claims, err := p.keys.verify(tok)
	if err != nil {
		p.limiter.fail(ip)
		p.log.Warn("token refused", "peer", p.proxies.describe(r), "path", r.URL.Path, "why", err.Error())
		return access{denied: &closeError{code: closeUnauthorized, reason: err.Error()}}, "", fromQuery
	}
	return access{claims: claims, local: local}, tok, fromQuery
}

// requestToken is the token a request carries: ?token=, a bearer token,
// or, from another machine, the page's cookie. This machine needs none,
// so a cookie left from a token that was revoked since does not lock its
// owner out of the dashboard.
func requestToken(r *http.Request, local bool) (tok string, fromQuery bool) {
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && q.Has("token") {
		return q.Get("token"), true
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t), false
	}
	if c, err := r.Cookie(tokenCookie); err == nil && !local {
		return c.Value, false
	}
	return "", false
}

// setCookie gives the page the token as a cookie for its own requests,
// out of reach of its scripts, and gone when the token expires.
func (p *accessPolicy) setCookie(w http.ResponseWriter, tok string, claims *viewerClaims) {
	exp := claims.ExpiresAt.Time
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", Expires: exp,
		MaxAge: max(1, int(time.Until(exp).Seconds())), HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode})
}

// publicPath reports whether anyone may fetch p without a token: the
// player's files, the icon and /version.
func publicPath(p string) bool {
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "version" || name == "icon.png" {
		return true
	}
	if name == "" || name == "." || name == "index.html" {
		return false
	}
	st, err := fs.Stat(webRoot, name)
	return err == nil && !st.IsDir()
}

// closeStatus is the HTTP status of the same meaning as a close code.
func closeStatus(ce *closeError) int {
	if ce == nil {
		return http.StatusBadRequest
	}
	switch ce.code {
	case closeUnauthorized, closeForbidden, closeNotFound, closeTooMany:
		return ce.code - 4000
	}
	return http.StatusBadRequest
}

// grant is what one request may play: the policy, with the request's
// access.
type grant struct {
	p *accessPolicy
	a access
}

// grantOf is r's grant under p.
func (p *accessPolicy) grantOf(r *http.Request) grant {
	a, _ := r.Context().Value(accessKey{}).(access)
	return grant{p: p, a: a}
}

// allowed returns why the request may play nothing, or nil.
func (g grant) allowed() error {
	switch {
	case g.a.denied != nil:
		return g.a.denied
	case !g.a.trusted && g.a.claims == nil:
		return errNoToken
	}
	return nil
}

// source is the source q asks for, if the request may play it: src=NAME,
// a stream of decoder's configuration, or url=, a source URL, where -urls
// allows them and the token, if any, allows every stream.
func (g grant) source(q url.Values, cfg SourceConfig) (source, error) {
	if err := g.allowed(); err != nil {
		return source{}, err
	}
	switch {
	case q.Has("src") && q.Has("url"):
		return source{}, badSource(closeBadRequest, "give src (a stream of decoder's configuration) or url (a source URL), not both")
	case q.Has("src"):
		return g.named(q)
	case !g.p.urls && !q.Has("url"):
		return source{}, badSource(closeBadRequest, "missing src parameter: name a stream of decoder's configuration, as in /live?src=front-door")
	case !g.p.urls:
		return source{}, badSource(closeForbidden, "this decoder plays the streams of its configuration only (-urls=false, the default when it listens beyond this machine): use src=NAME instead of url=")
	case g.a.claims != nil && !g.a.claims.allowsAll():
		return source{}, badSource(closeForbidden, "this viewer link is for "+strings.Join(g.a.claims.Streams, ", ")+" only, not for source URLs")
	}
	return parseSource(q, cfg)
}

// named is the named stream src= asks for.
func (g grant) named(q url.Values) (source, error) {
	name := q.Get("src")
	switch {
	case name == "":
		return source{}, badSource(closeBadRequest, "src is empty: name a stream of decoder's configuration, as in src=front-door")
	case q.Has("transport"):
		return source{}, badSource(closeBadRequest, "transport applies to url= sources; a named stream's transport is set in decoder's configuration")
	case g.a.claims != nil && !g.a.claims.allows(name):
		return source{}, badSource(closeForbidden, fmt.Sprintf("this viewer link is not for %q: it is for %s", name, strings.Join(g.a.claims.Streams, ", ")))
	}
	src, ok := g.p.names.source(name)
	if !ok {
		return source{}, badSource(closeNotFound, fmt.Sprintf("decoder has no stream named %q in its configuration", name))
	}
	return src, nil
}

// allowsStream reports whether the request may see a running stream of
// source src (/snapshot?id=, /streams): any, for this machine and tokens
// for every stream; named streams it names, for other tokens.
func (g grant) allowsStream(src source) bool {
	if g.allowed() != nil {
		return false
	}
	if g.a.trusted || g.a.claims.allowsAll() {
		return true
	}
	r, ok := src.producer.(*namedRelay)
	return ok && g.a.claims.allows(r.name)
}

// session is the context of a /live session the grant opens. One opened
// with a token ends, with 4401, when the token expires or decoder token
// -rotate replaces the key that signed it: revoking a link ends what it
// is watching, not only its next visit. stop releases the timers.
func (g grant) session(parent context.Context) (ctx context.Context, stop func()) {
	c := g.a.claims
	if c == nil {
		return parent, func() {}
	}
	ctx, cancel := context.WithCancelCause(parent)
	expired := time.AfterFunc(time.Until(c.ExpiresAt.Time), func() {
		cancel(&closeError{code: closeUnauthorized, reason: "the viewer link expired: ask for a new one"})
	})
	stopRevoked := context.AfterFunc(c.key.revoked, func() {
		cancel(&closeError{code: closeUnauthorized, reason: "the viewer link was revoked (decoder token -rotate): ask for a new one"})
	})
	return ctx, func() {
		expired.Stop()
		stopRevoked()
		cancel(nil)
	}
}

// localRequestOnly refuses what only this machine's own dashboard or
// programs may ask: from another machine, with a token, or from a page of
// another origin. It writes the refusal and reports whether it did.
func localRequestOnly(w http.ResponseWriter, r *http.Request, what string) bool {
	a, _ := r.Context().Value(accessKey{}).(access)
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	switch {
	case !a.local || !a.trusted || a.claims != nil:
		writeError(w, http.StatusForbidden, "%s from this machine only, without a token", what)
	case origin != "" && origin != requestOrigin(r):
		writeError(w, http.StatusForbidden, "%s from decoder's own dashboard only, not from pages of %s", what, origin)
	case site != "" && site != "same-origin" && site != "none":
		writeError(w, http.StatusForbidden, "%s from decoder's own dashboard only, not from other sites' pages", what)
	default:
		return false
	}
	return true
}

// requestOrigin is the origin of decoder as the request reached it.
func requestOrigin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
