package main

import (
	"embed"
)

// iconFiles are the icon set's files that the binary uses itself: the
// tray's icon on each platform and the page's favicon. icons/ holds the
// whole set (drawn by icon_gen_test.go), which the installers use too.
//
//go:embed icons/decoder-64.png icons/decoder.ico icons/decoder-template.png
var iconFiles embed.FS

// iconFile returns an embedded icon file; the names are fixed above, so
// a failure is a build mistake that TestEmbeddedIcons catches.
func iconFile(name string) []byte {
	data, _ := iconFiles.ReadFile("icons/" + name)
	return data
}

// iconPNG is decoder's icon as a 64-pixel PNG: the tray's on Linux and the
// page's favicon.
func iconPNG() []byte { return iconFile("decoder-64.png") }

// iconICO is decoder's icon as an ICO of several sizes, which the Windows
// tray needs.
func iconICO() []byte { return iconFile("decoder.ico") }

// iconTemplatePNG is the macOS menu-bar image: the play sign as a black
// shape that macOS tints for a light or a dark bar.
func iconTemplatePNG() []byte { return iconFile("decoder-template.png") }
