package main

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The /live protocol: close codes, the errors that end a session, and the
// messages either side sends. README's close-code table and the player's
// list of final codes (web/decoder.js) are checked against closeCodes by
// TestProtocolDocumented, so the three cannot drift apart.

// Close codes of /live. The 4xxx codes are 4000 plus the HTTP status that
// means the same, so they read naturally; a page shows the reason.
const (
	closeNormal            = 1000 // the source ended, or the page closed
	closeGoingAway         = 1001 // decoder is shutting down
	closeInvalidText       = 1007 // the page sent text that is not UTF-8
	closePolicy            = 1008 // the page sent something /live does not accept
	closeTooBig            = 1009 // the page sent a message over -max-message
	closeSourceFailed      = 1011 // the source failed for good
	closeBadRequest        = 4400 // the url parameter is missing or invalid
	closeUnauthorized      = 4401 // a viewer from another machine without a valid token
	closeForbidden         = 4403 // what the viewer asked for is not allowed to it
	closeNotFound          = 4404 // no stream of that name in the configuration
	closeTooSlow           = 4408 // the viewer stayed behind live past -max-lag
	closeUnsupportedScheme = 4415 // decoder cannot play the url's scheme
	closeTooMany           = 4429 // a viewer or source limit was reached
)

// closeCodeInfo documents a close code: what it means, and whether a player
// should stop (final) rather than reconnect, because connecting again would
// get the same answer and, for a camera, cost it another failed login.
type closeCodeInfo struct {
	code    int
	final   bool
	meaning string
}

// closeCodes lists every close code decoder sends, in README order.
var closeCodes = []closeCodeInfo{
	{closeNormal, true, "the viewer closed, or the source ended by itself"},
	{closeGoingAway, false, "decoder is shutting down"},
	{closeInvalidText, true, "the viewer sent a text message that is not UTF-8"},
	{closePolicy, true, "the viewer sent something /live does not accept (binary, not JSON)"},
	{closeTooBig, true, "the viewer sent a message over `-max-message`"},
	{closeSourceFailed, true, "the source failed for good: wrong credentials, a refused stream, a codec decoder cannot play, `-retries` exhausted (reason says why)"},
	{closeBadRequest, true, "the `url` or `src` parameter is missing or invalid (reason says which part)"},
	{closeUnauthorized, true, "a viewer from another machine without a valid token: none, expired, forged, or revoked by `decoder token -rotate` (also mid-stream, when the token expires or is revoked)"},
	{closeForbidden, true, "not allowed: a `url=` where decoder plays named streams only (`-urls=false`), or a stream the token does not name"},
	{closeNotFound, true, "no stream of that name in decoder's configuration, or it was removed from it"},
	{closeTooSlow, false, "too slow: the viewer stayed behind live past `-max-lag`"},
	{closeUnsupportedScheme, true, "decoder cannot play this URL scheme"},
	{closeTooMany, false, "too many viewers, viewers of this source, or sources"},
}

// closeError is why a viewer's session ends and how it is told: every error
// close (any code but 1000 and 1001) is preceded by an error message, for
// pages that show errors from messages rather than close events.
type closeError struct {
	code   int
	reason string
	// abrupt drops the connection without a close frame: the peer is gone or
	// not reading, so a close handshake would only wait.
	abrupt bool
}

func (e *closeError) Error() string { return e.reason }

// notifies reports whether the viewer gets an error message before the
// close frame.
func (e *closeError) notifies() bool {
	return !e.abrupt && e.code != closeNormal && e.code != closeGoingAway
}

// badSource is a problem with the request's parameters, closed with code
// after an error message the page can show.
func badSource(code int, message string) error {
	return &closeError{code: code, reason: message}
}

// Reasons a session ends, from the peer, the service or the source.
var (
	errPeerClosed     = &closeError{code: closeNormal, reason: "closed by the viewer", abrupt: true}
	errPeerGone       = &closeError{code: closeGoingAway, reason: "connection lost", abrupt: true}
	errPeerSilent     = &closeError{code: closePolicy, reason: "no pong or message in time", abrupt: true}
	errPeerFrozen     = &closeError{code: closePolicy, reason: "viewer took no data for the write timeout", abrupt: true}
	errMessageSize    = &closeError{code: closeTooBig, reason: "message too big", abrupt: true}
	errInvalidText    = &closeError{code: closeInvalidText, reason: "text messages must be UTF-8"}
	errNotText        = &closeError{code: closePolicy, reason: "binary messages are not accepted"}
	errNotJSON        = &closeError{code: closePolicy, reason: `messages must be JSON objects with a "type"`}
	errTooSlow        = &closeError{code: closeTooSlow, reason: "too slow: the viewer stayed behind live"}
	errShuttingDown   = &closeError{code: closeGoingAway, reason: "decoder is shutting down"}
	errTooManyViewers = &closeError{code: closeTooMany, reason: "too many viewers: decoder has -max-viewers already"}
	errTooManyPerSrc  = &closeError{code: closeTooMany, reason: "too many viewers of this source: it has -max-viewers-per-source already"}
	errTooManySources = &closeError{code: closeTooMany, reason: "too many sources: decoder runs -max-sources already"}
	// errSourceStopped ends a ring whose producer decoder stopped: by then
	// it has no viewers, or they are being closed for shutdown.
	errSourceStopped = &closeError{code: closeGoingAway, reason: "source stopped"}
)

// Message types of /live: server to client, then client to server.
const (
	msgStatus = "status"
	msgInit   = "init"
	msgData   = "data"
	msgStats  = "stats"
	msgPong   = "pong"
	msgError  = "error"
	msgPing   = "ping"
)

// Status is what a source is doing, as viewers see it in status messages.
type Status struct {
	// State is one of connecting, live, reconnecting, ended.
	State string `json:"state"`
	// Reason says why, for reconnecting and ended.
	Reason string `json:"reason,omitempty"`
	// Attempt and RetryInMS describe the next reconnection attempt.
	Attempt   int   `json:"attempt,omitempty"`
	RetryInMS int64 `json:"retry_in_ms,omitempty"`
}

// Source states.
const (
	stateConnecting   = "connecting"
	stateLive         = "live"
	stateReconnecting = "reconnecting"
	stateEnded        = "ended"
)

// statusMessage is the status message for s.
func statusMessage(s Status) []byte {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Status
	}{msgStatus, s})
	return b
}

// parseStatus reads a status message back.
func parseStatus(data []byte) Status {
	var s Status
	json.Unmarshal(data, &s)
	return s
}

// initInfo is the init message: what a page needs to set up its
// SourceBuffer, and to show.
type initInfo struct {
	Type  string     `json:"type"`
	MIME  string     `json:"mime"`
	Video videoInfo  `json:"video"`
	Audio *audioInfo `json:"audio,omitempty"`
	// Transcode says what decoder converts for this viewer's browser, from
	// what, to what, with which encoder; absent when the source passes
	// through as it is.
	Transcode *transcodeInfo `json:"transcode,omitempty"`
	// Note is anything else the viewer should know, such as audio that
	// its browser cannot play.
	Note string `json:"note,omitempty"`
}

type videoInfo struct {
	Codec  string  `json:"codec"`
	Format string  `json:"format"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps,omitempty"`
}

type audioInfo struct {
	Codec      string `json:"codec"`
	Format     string `json:"format"`
	SampleRate int    `json:"sample_rate"`
	Channels   int    `json:"channels"`
}

// viewerStats are a viewer's own figures, sent every -stats-interval.
type viewerStats struct {
	bytes, messages, drops uint64
	lag                    time.Duration
}

// statsMessage formats s by hand: it is sent to every viewer every second,
// and reflection would cost more than the rest of it.
func statsMessage(s viewerStats) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"type":"stats","bytes":`...)
	b = strconv.AppendUint(b, s.bytes, 10)
	b = append(b, `,"messages":`...)
	b = strconv.AppendUint(b, s.messages, 10)
	b = append(b, `,"drops":`...)
	b = strconv.AppendUint(b, s.drops, 10)
	b = append(b, `,"lag_ms":`...)
	b = strconv.AppendFloat(b, float64(s.lag.Microseconds())/1000, 'f', 1, 64)
	return append(b, '}')
}

// pongMessage answers a ping, echoing its id (valid JSON, checked by the
// reader).
func pongMessage(id json.RawMessage, now time.Time) []byte {
	b, _ := json.Marshal(struct {
		Type string          `json:"type"`
		ID   json.RawMessage `json:"id,omitempty"`
		TS   int64           `json:"ts"`
	}{msgPong, id, now.UnixNano()})
	return b
}

// errorMessage is the error message a page gets before an error close, or
// for a message it sent that decoder does not know.
func errorMessage(code int, message string) []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{msgError, code, message})
	return b
}

// clientMessage is what a page may send: {"type":"ping","id":…}.
type clientMessage struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

// parseClientMessage checks a text message from a page and returns the reply
// it gets, or the error that ends the session.
func parseClientMessage(data []byte, now time.Time) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, errInvalidText
	}
	var msg clientMessage
	if err := json.Unmarshal(data, &msg); err != nil || msg.Type == "" {
		return nil, errNotJSON
	}
	if msg.Type != msgPing {
		return errorMessage(closeBadRequest, "unknown message type "+strconv.Quote(msg.Type)+"; known: ping"), nil
	}
	return pongMessage(msg.ID, now), nil
}

// closeReason fits reason into a close frame (123 bytes), on a rune boundary.
func closeReason(reason string) string {
	const max = 123
	if len(reason) <= max {
		return reason
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}
