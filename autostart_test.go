package main

import (
	"fmt"
	"testing"
)

func TestWindowsCommandLine(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{`C:\Users\me\AppData\Local\Programs\decoder\decoder.exe`}, `"C:\Users\me\AppData\Local\Programs\decoder\decoder.exe"`},
		{[]string{`C:\Program Files\decoder.exe`, "-addr", "127.0.0.1:4000"}, `"C:\Program Files\decoder.exe" -addr 127.0.0.1:4000`},
		{[]string{`d.exe`, "-media-dir", `C:\My Clips\`}, `"d.exe" -media-dir "C:\My Clips\\"`},
		{[]string{`d.exe`, `say "hi"`, ``, `a\"b`}, `"d.exe" "say \"hi\"" "" "a\\\"b"`},
	} {
		if got := windowsCommandLine(tc.argv); got != tc.want {
			t.Errorf("windowsCommandLine(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}

func TestDesktopExecLine(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/decoder"}, "/usr/bin/decoder"},
		{[]string{"/opt/my apps/decoder", "-addr", "127.0.0.1:4000"}, `"/opt/my apps/decoder" -addr 127.0.0.1:4000`},
		{[]string{"/d", "-media-dir", `/clips/$1 "a" \x`}, `/d -media-dir "/clips/\\$1 \\"a\\" \\\\x"`},
		{[]string{"/d", "100%"}, "/d 100%%"},
	} {
		if got := desktopExecLine(tc.argv); got != tc.want {
			t.Errorf("desktopExecLine(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}

// TestLaunchAgentPlist reads the LaunchAgent back: its label, the program
// and flags exactly as given (XML-escaped on the way), run at load.
func TestLaunchAgentPlist(t *testing.T) {
	argv := []string{"/Applications/decoder.app/Contents/MacOS/decoder", "-allowed-origins", "https://a.example?x=1&y=<2>"}
	dict, err := readPlistDict([]byte(launchAgentPlist(argv[0], argv[1:])))
	if err != nil {
		t.Fatal(err)
	}
	if dict["Label"] != bundleID || dict["RunAtLoad"] != true || dict["LimitLoadToSessionType"] != "Aqua" {
		t.Errorf("LaunchAgent = %v", dict)
	}
	got, _ := dict["ProgramArguments"].([]any)
	if fmt.Sprint(got) != fmt.Sprint(argv) || len(got) != len(argv) {
		t.Errorf("ProgramArguments = %q, want %q", got, argv)
	}
	if _, err := readPlistDict([]byte("<plist><array/></plist>")); err == nil {
		t.Error("a plist without a dictionary was read")
	}
}
