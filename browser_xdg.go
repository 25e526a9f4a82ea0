//go:build unix && !darwin

package main

import (
	"os"
	"os/exec"
)

// openBrowser opens url in the desktop's default browser.
func openBrowser(url string) error { return startDetached(exec.Command("xdg-open", url)) }

// hasDesktop reports whether a graphical session is there to open a
// browser in: an X11 or Wayland display.
func hasDesktop() bool { return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" }
