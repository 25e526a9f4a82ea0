package main

import "os/exec"

// openBrowser opens url in the desktop's default browser.
func openBrowser(url string) error { return startDetached(exec.Command("open", url)) }
