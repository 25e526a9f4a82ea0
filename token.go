package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Viewer tokens: what lets a viewer on another machine (a phone on the
// LAN) watch. A token is a JWT signed with HS256 (github.com/golang-jwt/jwt,
// not signing of decoder's own making) with a key kept in the user's
// config directory; it names the streams it allows, or all, expires, and
// may carry a name for the log. Replacing the key (decoder token -rotate)
// revokes every token at once, including the sessions they opened.

// Token bounds: what a token is for (its audience), the key's size, the
// longest token read (a page cannot make decoder parse megabytes), and the
// longest life decoder token and POST /tokens give one.
const (
	tokenAudience = "decoder"
	tokenKeyBytes = 32
	maxTokenBytes = 4096
	maxTokenTTL   = 366 * 24 * time.Hour
	maxLinkTTL    = 30 * 24 * time.Hour
	allStreams    = "*"
)

// tokenKeyFile is the key's file name in decoder's config directory.
const tokenKeyFile = "token.key"

// defaultTokenKeyPath is where the key is kept: decoder's directory in the
// user's config directory, beside the default config file.
func defaultTokenKeyPath() string {
	if dir := decoderConfigDir(); dir != "" {
		return filepath.Join(dir, tokenKeyFile)
	}
	return ""
}

// viewerClaims are what a token says.
type viewerClaims struct {
	// Streams are the names of the streams the token allows; "*" allows
	// every named stream, and source URLs where -urls is on.
	Streams []string `json:"streams"`
	jwt.RegisteredClaims
	// key is the key that verified the token: its replacement ends the
	// sessions the token opened.
	key *tokenKey
}

func (c *viewerClaims) allowsAll() bool { return slices.Contains(c.Streams, allStreams) }

func (c *viewerClaims) allows(name string) bool {
	return c.allowsAll() || slices.Contains(c.Streams, name)
}

// holder is the name the token was given, for the log.
func (c *viewerClaims) holder() string {
	if c.Subject == "" {
		return "(unnamed)"
	}
	return c.Subject
}

// tokenKey is one signing key; revoked is done once it is replaced.
type tokenKey struct {
	secret  []byte
	revoked context.Context
	revoke  context.CancelFunc
}

func newTokenKey(secret []byte) *tokenKey {
	ctx, cancel := context.WithCancel(context.Background())
	return &tokenKey{secret: secret, revoked: ctx, revoke: cancel}
}

// tokenKeys is the key file, read again whenever it changes, so that
// decoder token -rotate, run beside a running decoder, revokes at once.
// Safe for concurrent use.
type tokenKeys struct {
	path string

	mu   sync.Mutex
	cur  *tokenKey   // nil while there is no key
	info os.FileInfo // of the file cur was read from
}

// newTokenKeys reads the key at path if there is one; a file that is not
// a key is an error, since every token would then be refused.
func newTokenKeys(path string) (*tokenKeys, error) {
	k := &tokenKeys{path: path}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k, k.refreshLocked()
}

// exists reports whether there is a key.
func (k *tokenKeys) exists() bool {
	key, _ := k.current()
	return key != nil
}

// current is the key now in the file, or nil if there is none.
func (k *tokenKeys) current() (*tokenKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.refreshLocked()
	return k.cur, err
}

// refresh reads the key again if the file changed, revoking the old one.
func (k *tokenKeys) refresh() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refreshLocked()
}

func (k *tokenKeys) refreshLocked() error {
	if k.path == "" {
		return nil
	}
	st, err := os.Stat(k.path)
	if err != nil {
		k.replaceLocked(nil, nil)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cannot read the token key: %w", err)
	}
	if k.info != nil && os.SameFile(k.info, st) && st.ModTime().Equal(k.info.ModTime()) && st.Size() == k.info.Size() {
		return nil
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		k.replaceLocked(nil, nil)
		return fmt.Errorf("cannot read the token key: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(secret) != tokenKeyBytes {
		k.replaceLocked(nil, nil)
		return fmt.Errorf("%s is not a decoder token key: remove it, or make a new one with decoder token -rotate", k.path)
	}
	k.replaceLocked(newTokenKey(secret), st)
	return nil
}

// replaceLocked makes key the current key, revoking the one before.
func (k *tokenKeys) replaceLocked(key *tokenKey, st os.FileInfo) {
	if k.cur != nil && k.cur != key {
		k.cur.revoke()
	}
	k.cur, k.info = key, st
}

// ensure returns the key, making it if there is none: at first use.
func (k *tokenKeys) ensure() (*tokenKey, error) {
	if key, err := k.current(); key != nil || err != nil {
		return key, err
	}
	return k.rotate()
}

// rotate writes a new key, readable by the user only; every token signed
// with the old one stops working.
func (k *tokenKeys) rotate() (*tokenKey, error) {
	if k.path == "" {
		return nil, errors.New("no config directory to keep the token key in: set HOME (or XDG_CONFIG_HOME)")
	}
	secret := make([]byte, tokenKeyBytes)
	rand.Read(secret)
	if err := writeFileAtomic(k.path, []byte(hex.EncodeToString(secret)+"\n"), 0o700, 0o600); err != nil {
		return nil, fmt.Errorf("cannot write the token key: %w", err)
	}
	return k.current()
}

// sign makes a token for streams, valid for ttl, given to name.
func (k *tokenKeys) sign(streams []string, ttl time.Duration, name string) (string, time.Time, error) {
	key, err := k.ensure()
	if err != nil {
		return "", time.Time{}, err
	}
	now := time.Now().Truncate(time.Second)
	exp := now.Add(ttl)
	id := make([]byte, 8)
	rand.Read(id)
	claims := viewerClaims{Streams: streams, RegisteredClaims: jwt.RegisteredClaims{
		Subject: name, Audience: jwt.ClaimStrings{tokenAudience}, ID: hex.EncodeToString(id),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key.secret)
	return tok, exp, err
}

// verify checks a token: HS256 with the current key, for decoder, not
// expired, naming at least one stream. Its error says why in words a
// viewer can act on, and never repeats the token.
func (k *tokenKeys) verify(tok string) (*viewerClaims, error) {
	if len(tok) > maxTokenBytes {
		return nil, errors.New("the token is too long to be decoder's")
	}
	key, err := k.current()
	if err != nil || key == nil {
		return nil, errors.New("this decoder has no token key (it has given no tokens, or its key was removed): ask its owner for a new viewer link")
	}
	claims := &viewerClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired(),
		jwt.WithAudience(tokenAudience), jwt.WithIssuedAt())
	if err != nil {
		return nil, tokenProblem(err, claims)
	}
	if len(claims.Streams) == 0 {
		return nil, errors.New("the token names no stream")
	}
	claims.key = key
	return claims, nil
}

// tokenProblem says why a token was refused.
func tokenProblem(err error, claims *viewerClaims) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		at := "its time"
		if claims.ExpiresAt != nil {
			at = claims.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return fmt.Errorf("the viewer link expired (%s): ask for a new one", at)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("the token is malformed: copy the whole viewer link")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errors.New("the token was not signed by this decoder's key (forged, or made before decoder token -rotate): ask for a new viewer link")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("the token is not valid yet: check this machine's clock")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errors.New("the token is not a decoder viewer token")
	}
	return errors.New("the token is not valid")
}

// parseTTL reads a token's life: a Go duration (90m, 24h) or whole days
// (7d), from a minute to most.
func parseTTL(s string, most time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil {
		return 0, fmt.Errorf("ttl %q is not a duration: write it as 90m, 24h or 7d", s)
	}
	if d < time.Minute || d > most {
		return 0, fmt.Errorf("ttl must be from 1m to %dd, got %s", most/(24*time.Hour), s)
	}
	return d, nil
}

// forgetTokenKey removes the token key, for decoder forget: a secret that
// decoder made, which removing decoder should not leave behind. The config
// file stays: the user wrote it.
func forgetTokenKey(stdout io.Writer) error {
	path := defaultTokenKeyPath()
	if path == "" {
		return nil
	}
	err := os.Remove(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("cannot remove the token key: %w", err)
	}
	fmt.Fprintf(stdout, "removed the token key %s: the viewer links it signed no longer work\n", path)
	removeEmptyDirs(filepath.Dir(path))
	return nil
}
