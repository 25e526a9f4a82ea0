package main

import "net/http"

// Version is decoder's release version: printed by -version, returned by
// GET /version and shown on the built-in page. It is the one place to bump.
const Version = "0.1.0"

// handleVersion answers GET /version with the version in the standard
// envelope, as the original design document specifies.
func handleVersion(w http.ResponseWriter, r *http.Request) {
	writeData(w, http.StatusOK, Version)
}
