//go:build !cgo

package main

import "context"

// noTrayReason says why this build runs headless: fyne.io/systray draws
// the macOS menu-bar icon through Cocoa, which Go reaches only with cgo, and
// macOS builds made elsewhere (such as the release's, made on Linux) have
// none.
const noTrayReason = "this macOS build has no menu-bar icon: it was built without cgo (CGO_ENABLED=0); a build made on a Mac with cgo has one"

// trayBuildNote is what decoder -h says of this build's tray.
const trayBuildNote = "This build runs headless: " + noTrayReason + "."

// trayAvailable reports that this build cannot show a tray, and why.
func trayAvailable() (bool, string) { return false, noTrayReason }

// runTray is where run goes when trayAvailable says yes, which in this
// build it never does; should that change, it serves headless until ctx
// is done, as run does without a tray.
func runTray(ctx context.Context, d trayDeps) {
	<-ctx.Done()
}
