//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

// TestTrayWatchOnPhoneOverDBus: the tray's "Watch on phone…" opens the
// dashboard at its panel of viewer links.
func TestTrayWatchOnPhoneOverDBus(t *testing.T) {
	pathEnv, opened := fakeOpener(t)
	h := startTrayHost(t, []string{pathEnv})
	item, ok := h.find("Watch on phone")
	if !ok || item.hidden {
		t.Fatalf("no visible Watch on phone item: %+v", h.entries())
	}
	h.click(item)
	want := h.p.url + "/#" + phonePanelID
	if !eventually(5*time.Second, func() bool { return strings.Join(opened(), " ") == want }) {
		t.Errorf("Watch on phone opened %q, want %s", opened(), want)
	}
}
