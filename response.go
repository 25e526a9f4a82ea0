package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// envelope is the shape of every JSON body the HTTP side returns, success or
// error, so that a page can handle all answers the same way.
type envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// writeData writes data in the envelope with message "OK".
func writeData(w http.ResponseWriter, status int, data any) {
	writeEnvelope(w, envelope{Code: status, Message: "OK", Data: data})
}

// writeError writes an error envelope whose code matches the HTTP status, with
// data null and a message that tells the user what to change.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeEnvelope(w, envelope{Code: status, Message: fmt.Sprintf(format, args...)})
}

func writeEnvelope(w http.ResponseWriter, e envelope) {
	body, err := json.Marshal(e)
	if err != nil {
		// Only a programming error (an unmarshalable data value) gets here.
		e = envelope{Code: http.StatusInternalServerError, Message: "failed to encode response: " + err.Error()}
		body, _ = json.Marshal(e)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Code)
	w.Write(append(body, '\n'))
}

// allowMethods answers requests whose method is not listed with 405 in the
// envelope and an Allow header; HEAD is accepted wherever GET is.
func allowMethods(h http.HandlerFunc, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s; use %s", r.Method, r.URL.Path, allow)
	})
}

// handleNotFound answers every path that no route claims.
func handleNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not found: %s", r.URL.Path)
}
