package main

import "os/exec"

// openBrowser opens url in the desktop's default browser.
func openBrowser(url string) error { return startDetached(exec.Command("open", url)) }

// hasDesktop reports whether there is a desktop to open a browser on:
// always, for a user's macOS session.
func hasDesktop() bool { return true }
