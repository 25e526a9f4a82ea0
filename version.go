package main

import (
	"net/http"
	"runtime/debug"
	"sync"
)

// Version is decoder's release version: printed by -version, returned by
// GET /version and shown on the built-in page. It is the one place to bump;
// release.sh may stamp another with -ldflags "-X main.Version=…". It is a
// variable only so that the linker can set it.
var Version = "0.1.0"

// Commit is the source revision the binary was built from, stamped by
// release.sh with -ldflags "-X main.Commit=…". Left empty, commit falls
// back to what the go command recorded from git.
var Commit = ""

// commit is the revision -version prints: Commit when stamped, else the
// one go build recorded (with "-dirty" for uncommitted changes), else
// "unknown" (a build outside a git checkout).
var commit = sync.OnceValue(func() string {
	if Commit != "" {
		return Commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev[:min(len(rev), 12)] + dirty
})

// versionLine is what decoder -version prints.
func versionLine() string {
	return "decoder " + Version + " (commit " + commit() + ")"
}

// handleVersion answers GET /version with the version in the standard
// envelope, as the original design document specifies.
func handleVersion(w http.ResponseWriter, r *http.Request) {
	writeData(w, http.StatusOK, Version)
}
