//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// trayHost is a test's view of decoder's tray, as a desktop's tray host
// reads it over the private session bus.
type trayHost struct {
	t    *testing.T
	p    *process
	conn *dbus.Conn
	item dbus.BusObject
	menu dbus.BusObject
}

// startTrayHost starts decoder with its tray on a private bus and returns
// the tray once it has registered and its menu answers in full.
func startTrayHost(t *testing.T, env []string, args ...string) *trayHost {
	t.Helper()
	addr := startPrivateBus(t)
	conn := connectBus(t, addr)
	w := startFakeWatcher(t, conn)
	p := startDecoder(t, append([]string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "PORT=" + freePort(t)}, env...), args...)
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		p.wait(t, 10*time.Second)
	})
	item, ok := w.waitItem(15 * time.Second)
	if !ok {
		t.Fatalf("no tray item registered within 15s\n%s", p.stderr)
	}
	h := &trayHost{t: t, p: p, conn: conn, item: conn.Object(item.Dest, item.Path)}
	v, err := getProperty(h.item, itemIface, "Menu")
	if err != nil {
		t.Fatalf("reading the item's Menu: %v", err)
	}
	menuPath, _ := v.Value().(dbus.ObjectPath)
	h.menu = conn.Object(item.Dest, menuPath)
	// systray answers its first GetLayout one level deep only.
	h.entries()
	return h
}

// tooltip is the item's tooltip title.
func (h *trayHost) tooltip() string {
	v, err := getProperty(h.item, itemIface, "ToolTip")
	if err != nil {
		return ""
	}
	tip, _ := v.Value().([]any)
	return tooltipTitle(tip)
}

// menuEntry is one item of the menu as a host shows it.
type menuEntry struct {
	id              int32
	parent          int32
	label           string
	enabled, hidden bool
	checked         bool
}

// entries is the whole menu, depth first.
func (h *trayHost) entries() []menuEntry {
	var revision uint32
	var root menuNode
	if err := call(h.menu, menuIface+".GetLayout", int32(0), int32(-1), []string{}).Store(&revision, &root); err != nil {
		h.t.Fatalf("GetLayout: %v", err)
	}
	var out []menuEntry
	var walk func(n menuNode, parent int32)
	walk = func(n menuNode, parent int32) {
		for _, c := range n.Children {
			var child menuNode
			if err := dbus.Store([]any{c.Value()}, &child); err != nil {
				h.t.Fatalf("malformed menu item: %v", err)
			}
			e := menuEntry{id: child.ID, parent: parent, label: child.label(), enabled: true}
			if v, ok := child.Props["enabled"].Value().(bool); ok {
				e.enabled = v
			}
			if v, ok := child.Props["visible"].Value().(bool); ok {
				e.hidden = !v
			}
			if v, ok := child.Props["toggle-state"].Value().(int32); ok {
				e.checked = v == 1
			}
			out = append(out, e)
			walk(child, child.ID)
		}
	}
	walk(root, 0)
	return out
}

// find returns the first entry whose label starts with prefix.
func (h *trayHost) find(prefix string) (menuEntry, bool) {
	for _, e := range h.entries() {
		if strings.HasPrefix(e.label, prefix) && e.label != "" {
			return e, true
		}
	}
	return menuEntry{}, false
}

// children are the visible entries under parent.
func (h *trayHost) children(parent int32) []string {
	var labels []string
	for _, e := range h.entries() {
		if e.parent == parent && !e.hidden {
			labels = append(labels, e.label)
		}
	}
	return labels
}

// click clicks the entry, as a user does.
func (h *trayHost) click(e menuEntry) {
	h.t.Helper()
	err := call(h.menu, menuIface+".Event", e.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
	if err != nil {
		h.t.Fatalf("clicking %q: %v", e.label, err)
	}
}

// waitStatus waits until the tooltip and the menu's first line both say
// want, the first line disabled, as it is information, not a command.
func (h *trayHost) waitStatus(want string) {
	h.t.Helper()
	var tip string
	var first menuEntry
	ok := eventually(5*time.Second, func() bool {
		tip = h.tooltip()
		if es := h.entries(); len(es) > 0 {
			first = es[0]
		}
		return tip == want && first.label == want && !first.enabled
	})
	if !ok {
		h.t.Fatalf("tooltip %q and first menu line %+v, want %q (disabled)\n%s", tip, first, want, h.p.stderr)
	}
}

// TestTrayTellsOverDBus follows decoder's tray as viewers come and go:
// idle, then cameras and viewers counted in the tooltip and the menu's
// first line, a camera that cannot be reached counted as reconnecting with
// its reason in a submenu, the sources listed under Recent cameras (a
// click opens the page on one), and idle again when all have left.
func TestTrayTellsOverDBus(t *testing.T) {
	pathEnv, opened := fakeOpener(t)
	h := startTrayHost(t, []string{pathEnv}, "-linger", "0s", "-retry-min", "100ms", "-retry-max", "200ms")
	h.waitStatus("解码器 — idle")
	if e, ok := h.find("Cameras in trouble"); ok && !e.hidden {
		t.Errorf("with nothing running the menu shows %q", e.label)
	}

	demo := "demo-text://?interval=100ms"
	a, b := dial(t, h.p.liveURL(demo)), dial(t, h.p.liveURL(demo))
	keepReading(t, a)
	keepReading(t, b)
	h.waitStatus("解码器 — 1 camera, 2 viewers")

	camera := fmt.Sprintf("rtsp://127.0.0.1:%s/cam", freePort(t))
	c := dial(t, h.p.liveURL(camera))
	keepReading(t, c)
	h.waitStatus("解码器 — 2 cameras, 3 viewers, 1 reconnecting")
	trouble, ok := h.find("1 camera in trouble")
	if !ok || trouble.hidden {
		t.Fatalf("no visible %q item: %+v", "1 camera in trouble", h.entries())
	}
	if got := h.children(trouble.id); len(got) != 1 || !strings.HasPrefix(got[0], camera+": cannot reach the camera") {
		t.Errorf("trouble submenu = %q, want %s and why", got, camera)
	}

	recent, _ := h.find("Recent cameras")
	if got := h.children(recent.id); len(got) != 2 || got[0] != camera || got[1] != demo {
		t.Errorf("Recent cameras = %q, want the camera then the demo", got)
	}
	for _, e := range h.entries() {
		if e.parent == recent.id && e.label == demo {
			h.click(e)
		}
	}
	wantPage := h.p.url + "/?src=" + "demo-text%3A%2F%2F%3Finterval%3D100ms"
	if !eventually(5*time.Second, func() bool { return strings.Join(opened(), " ") == wantPage }) {
		t.Errorf("clicking the demo under Recent cameras opened %q, want %s", opened(), wantPage)
	}

	for _, v := range []interface{ CloseNow() error }{a, b, c} {
		v.CloseNow()
	}
	h.waitStatus("解码器 — idle")
	if e, _ := h.find("1 camera in trouble"); !e.hidden {
		t.Errorf("the trouble item stays after the camera stopped")
	}
	if got := h.children(recent.id); len(got) != 2 {
		t.Errorf("Recent cameras after all left = %q, want both still", got)
	}
}

// TestTrayStartAtLoginOverDBus: "Start at login" writes the XDG autostart
// entry for the binary and its flags and gets its check mark; clicked
// again it removes the entry; and the check mark follows decoder autostart
// run beside it.
func TestTrayStartAtLoginOverDBus(t *testing.T) {
	config := t.TempDir()
	entry := filepath.Join(config, "autostart", "decoder.desktop")
	args := []string{"-linger", "2s"}
	h := startTrayHost(t, []string{"XDG_CONFIG_HOME=" + config}, args...)
	item, ok := h.find("Start at login")
	if !ok || item.checked {
		t.Fatalf("Start at login item: %+v (found %v), want it unchecked", item, ok)
	}
	waitCheck := func(want bool) {
		t.Helper()
		if !eventually(5*time.Second, func() bool { e, _ := h.find("Start at login"); return e.checked == want }) {
			t.Errorf("Start at login checked is not %v", want)
		}
	}

	h.click(item)
	waitCheck(true)
	data, err := os.ReadFile(entry)
	if want := xdgAutostartEntry(decoderBinary(t), args); err != nil || string(data) != want {
		t.Errorf("autostart entry = %q (%v), want %q", data, err, want)
	}
	h.click(item)
	waitCheck(false)
	if _, err := os.Stat(entry); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the entry is still there after unchecking: %v", err)
	}

	if out, code := autostartCmd(t, config, "on"); code != 0 {
		t.Fatalf("decoder autostart on: %s", out)
	}
	waitCheck(true)
	if out, code := autostartCmd(t, config, "off"); code != 0 {
		t.Fatalf("decoder autostart off: %s", out)
	}
	waitCheck(false)
}

// fakeNotifications is the desktop's notification service as the
// freedesktop specification describes it, keeping what it is sent.
type fakeNotifications struct {
	got chan []any
}

// Notify is org.freedesktop.Notifications.Notify.
func (f *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.got <- []any{app, icon, summary, body, timeout}
	return 1, nil
}

// TestDesktopNotification sends a notification over a private session bus
// to a notification service, and checks that without one the error says
// so rather than hanging.
func TestDesktopNotification(t *testing.T) {
	addr := startPrivateBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	if err := notifyDesktop("s", "b"); err == nil || !strings.Contains(err.Error(), "did not take the notification") {
		t.Errorf("without a notification service: %v", err)
	}

	conn := connectBus(t, addr)
	f := &fakeNotifications{got: make(chan []any, 1)}
	if err := conn.Export(f, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("taking the notification service's name: %v %v", reply, err)
	}
	summary, body := trayTitle+" — camera unreachable", "rtsp://***@cam/x has been unreachable for a minute: stalled"
	if err := notifyDesktop(summary, body); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-f.got:
		if want := fmt.Sprint([]any{"decoder", "decoder", summary, body, int32(-1)}); fmt.Sprint(got) != want {
			t.Errorf("notified %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the notification did not arrive")
	}

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	if err := notifyDesktop(summary, body); !errors.Is(err, errNoNotifier) {
		t.Errorf("without a session bus: %v, want errNoNotifier", err)
	}
}
