package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProtocolDocumented keeps protocol.go, README's close-code table and
// the player's final codes in step: a code added, dropped or made final in
// one place fails until the others say the same.
func TestProtocolDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	player, err := os.ReadFile("web/player.js")
	if err != nil {
		t.Fatal(err)
	}
	var want, wantFinal []int
	for _, c := range closeCodes {
		want = append(want, c.code)
		if c.final {
			wantFinal = append(wantFinal, c.code)
		}
	}

	section, _, _ := strings.Cut(string(readme[strings.Index(string(readme), "### Close codes"):]), "\n\n\n")
	var documented, documentedFinal []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d{4}) \| .+ \| (stops|reconnects)[^|]*\|$`).FindAllStringSubmatch(section, -1) {
		code, _ := strconv.Atoi(m[1])
		documented = append(documented, code)
		if m[2] == "stops" {
			documentedFinal = append(documentedFinal, code)
		}
	}
	if !slices.Equal(documented, want) || !slices.Equal(documentedFinal, wantFinal) {
		t.Errorf("README's close codes %v (final %v), protocol.go's %v (final %v)", documented, documentedFinal, want, wantFinal)
	}

	m := regexp.MustCompile(`const FINAL_CLOSES = new Set\(\[([\d, ]+)\]\)`).FindSubmatch(player)
	if m == nil {
		t.Fatal("web/player.js has no FINAL_CLOSES set")
	}
	var final []int
	for _, s := range strings.Split(string(m[1]), ",") {
		code, _ := strconv.Atoi(strings.TrimSpace(s))
		final = append(final, code)
	}
	slices.Sort(final)
	if !slices.Equal(final, wantFinal) {
		t.Errorf("the player's final codes %v, protocol.go's %v", final, wantFinal)
	}

	for _, typ := range []string{msgStatus, msgInit, msgData, msgStats, msgPong, msgError} {
		if !strings.Contains(string(readme), "| `"+typ+"` |") {
			t.Errorf("README's message table lacks %s", typ)
		}
	}
}

func TestParseClientMessage(t *testing.T) {
	now := time.Unix(1, 0)
	cases := []struct {
		name, in string
		reply    string // a substring of the reply
		err      *closeError
	}{
		{"ping echoes its id", `{"type":"ping","id":"a\u00e9"}`, `{"type":"pong","id":"a\u00e9","ts":1000000000}`, nil},
		{"ping without id", `{"type":"ping"}`, `{"type":"pong","ts":`, nil},
		{"unknown type", `{"type":"subscribe"}`, `"code":4400,"message":"unknown message type \"subscribe\"`, nil},
		{"not JSON", `hello`, "", errNotJSON},
		{"no type", `{"id":1}`, "", errNotJSON},
		{"invalid UTF-8 in the id", "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}", "", errInvalidText},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := parseClientMessage([]byte(tc.in), now)
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || !strings.Contains(string(reply), tc.reply) {
				t.Errorf("reply %s (%v), want it to hold %s", reply, err, tc.reply)
			}
		})
	}
}

func TestCloseReason(t *testing.T) {
	long := strings.Repeat("摄像头", 30)
	got := closeReason(long)
	if len(got) > 123 || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("closeReason cut %d bytes to %q", len(long), got)
	}
	if closeReason("short") != "short" {
		t.Error("a short reason was changed")
	}
}
