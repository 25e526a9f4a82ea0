package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// What "Start at login" writes on each system, built here rather than in
// the platform files so that every system's entry is tested wherever the
// tests run: an XDG autostart desktop entry (Linux and other freedesktop
// systems), a LaunchAgent property list (macOS) and a Run value (Windows).
// Each starts the absolute path of the binary with the flags decoder runs
// with.

// bundleID names decoder to macOS: the app bundle's CFBundleIdentifier and
// the LaunchAgent's label and file name.
const bundleID = "app.decoder.desktop"

// desktopReserved are the characters that make an Exec argument need
// quotes (Desktop Entry Specification, "The Exec key").
const desktopReserved = " \t\n\"'\\><~|&;$*?#()`"

// desktopExecLine is argv as the value of a desktop entry's Exec key: each
// argument quoted where it holds a reserved character, with ", `, $ and \
// escaped inside the quotes, % doubled (it starts field codes), and then
// the value escaped as a string value (\ and control characters), which
// the specification applies before the quoting.
func desktopExecLine(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, "%", "%%")
		if a != "" && !strings.ContainsAny(a, desktopReserved) {
			quoted[i] = a
			continue
		}
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range a {
			if strings.ContainsRune("\"`$\\", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
		quoted[i] = b.String()
	}
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(strings.Join(quoted, " "))
}

// xdgAutostartEntry is the desktop entry that starts decoder at login.
func xdgAutostartEntry(exe string, args []string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=decoder\n" +
		"Name[zh_CN]=解码器\n" +
		"Comment=Plays RTSP cameras in web pages\n" +
		"Exec=" + desktopExecLine(append([]string{exe}, args...)) + "\n" +
		"Icon=decoder\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// launchAgentPlist is the LaunchAgent that starts decoder at login: in the
// user's graphical session (Aqua) only, once, as an interactive program.
func launchAgentPlist(exe string, args []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + bundleID + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{exe}, args...) {
		b.WriteString("\t\t<string>")
		xml.EscapeText(&b, []byte(a))
		b.WriteString("</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
	return b.String()
}

// windowsCommandLine is argv as one Windows command line, quoted as
// CommandLineToArgvW reads it back: the program always in quotes (an
// unquoted path with spaces could start another program), other arguments
// where they hold a space, a tab or a quote, with backslashes doubled
// before a quote.
func windowsCommandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if i > 0 && a != "" && !strings.ContainsAny(a, " \t\"") {
			out[i] = a
			continue
		}
		var b strings.Builder
		b.WriteByte('"')
		slashes := 0
		for j := 0; j < len(a); j++ {
			switch a[j] {
			case '\\':
				slashes++
			case '"':
				b.WriteString(strings.Repeat(`\`, slashes+1))
				slashes = 0
			default:
				slashes = 0
			}
			b.WriteByte(a[j])
		}
		b.WriteString(strings.Repeat(`\`, slashes))
		b.WriteByte('"')
		out[i] = b.String()
	}
	return strings.Join(out, " ")
}

// plistValue is a property list value as readPlistDict returns it: a
// string (for <string> and <integer>), a bool, or a []any of those.
type plistValue = any

// readPlistDict reads the top-level dictionary of an XML property list,
// enough for the plists decoder writes and ships: strings, integers,
// booleans and arrays of them.
func readPlistDict(data []byte) (map[string]plistValue, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	dict := map[string]plistValue{}
	var key string
	var array []any
	inArray, inDict := false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a property list: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if end, isEnd := tok.(xml.EndElement); isEnd && end.Name.Local == "array" {
			dict[key], inArray = array, false
		}
		if !ok {
			continue
		}
		var v plistValue
		switch name := start.Name.Local; name {
		case "dict":
			if inDict {
				return nil, fmt.Errorf("nested dictionaries are not read")
			}
			inDict = true
			continue
		case "array":
			array, inArray = []any{}, true
			continue
		case "key", "string", "integer":
			var s string
			if err := d.DecodeElement(&s, &start); err != nil {
				return nil, fmt.Errorf("not a property list: %w", err)
			}
			if name == "key" {
				key = s
				continue
			}
			v = s
		case "true", "false":
			v = name == "true"
		default:
			continue
		}
		if inArray {
			array = append(array, v)
		} else {
			dict[key] = v
		}
	}
	if !inDict {
		return nil, fmt.Errorf("not a property list: no dictionary")
	}
	return dict, nil
}
