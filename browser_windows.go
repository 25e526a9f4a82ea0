package main

import "os/exec"

// openBrowser opens url in the desktop's default browser.
func openBrowser(url string) error {
	return startDetached(exec.Command("rundll32", "url.dll,FileProtocolHandler", url))
}

// hasDesktop reports whether there is a desktop to open a browser on:
// always, for a user's Windows session.
func hasDesktop() bool { return true }
