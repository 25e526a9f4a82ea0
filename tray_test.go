//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// The names and paths below are those of the StatusNotifierItem and
// dbusmenu specifications, which fyne.io/systray implements on Linux: it
// exports its item and menu on the session bus and registers the item with
// whoever owns org.kde.StatusNotifierWatcher, as a desktop's tray host does.
const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = dbus.ObjectPath("/StatusNotifierWatcher")
	watcherIface = "org.kde.StatusNotifierWatcher"
	itemIface    = "org.kde.StatusNotifierItem"
	menuIface    = "com.canonical.dbusmenu"
	// defaultItemPath is where an item lives when it registers under a bus
	// name rather than an object path.
	defaultItemPath = dbus.ObjectPath("/StatusNotifierItem")
)

// dbusCallTimeout bounds every D-Bus call the tests make, so a hung decoder
// fails the test instead of stalling it until go test's own timeout.
const dbusCallTimeout = 5 * time.Second

// busConfig is a minimal session bus configuration: unlike the system's
// session.conf it listens on a socket in a directory the test owns and
// activates no services, so the test sees only what decoder does.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startPrivateBus starts a D-Bus session bus that only this test uses, so
// the test neither depends on nor disturbs the desktop session of whoever
// runs it, and returns its address. The bus is stopped when the test ends.
func startPrivateBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not on PATH; install the Debian package dbus (apt-get install -y dbus) to run this test")
	}
	// os.MkdirTemp rather than t.TempDir: a unix socket path must stay
	// under 108 bytes, and t.TempDir embeds the (sub)test's name.
	dir, err := os.MkdirTemp("", "decoder-bus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reader hands over the first line, the address, then drains the
	// pipe until the daemon dies so that it never blocks on a full pipe.
	addrs := make(chan string, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		r := bufio.NewReader(stdout)
		if line, err := r.ReadString('\n'); err == nil {
			addrs <- strings.TrimSpace(line)
		}
		io.Copy(io.Discard, r)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-readerDone:
		case <-time.After(10 * time.Second):
			t.Errorf("dbus-daemon's stdout stayed open after it was killed")
		}
		cmd.Wait()
	})

	select {
	case addr := <-addrs:
		if addr == "" {
			t.Fatalf("dbus-daemon printed an empty address\n%s", stderr)
		}
		return addr
	case <-readerDone:
		t.Fatalf("dbus-daemon exited without printing its address\n%s", stderr)
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon did not print its address\n%s", stderr)
	}
	return ""
}

// connectBus opens a private connection to the bus at addr, closed when the
// test ends: a connection left open would leak its reader goroutine, which
// TestMain reports.
func connectBus(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting to the private bus %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// trayItem is a StatusNotifierItem as it registered with the watcher.
type trayItem struct {
	Sender  string          // unique bus name of the caller
	Service string          // argument of RegisterStatusNotifierItem
	Dest    string          // bus name to reach the item at
	Path    dbus.ObjectPath // object path of the item
}

// fakeWatcher stands in for the desktop's StatusNotifierWatcher, the
// service a tray item registers with. A CI machine has no desktop, and this
// way the test sees exactly what decoder's tray registers.
//
// Its exported methods are the D-Bus methods; godbus exports them all.
type fakeWatcher struct {
	conn       *dbus.Conn
	props      *prop.Properties
	registered chan trayItem

	mu    sync.Mutex
	items []string
}

// RegisterStatusNotifierItem is org.kde.StatusNotifierWatcher's method. As
// the specification says, service is either a bus name, or an object path
// on the caller's connection, which is what fyne.io/systray passes.
func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	item := trayItem{Sender: string(sender), Service: service, Dest: service, Path: defaultItemPath}
	if strings.HasPrefix(service, "/") {
		item.Dest, item.Path = string(sender), dbus.ObjectPath(service)
	}
	w.mu.Lock()
	w.items = append(w.items, item.Dest+string(item.Path))
	items := append([]string(nil), w.items...)
	w.mu.Unlock()
	w.props.SetMust(watcherIface, "RegisteredStatusNotifierItems", items)
	w.conn.Emit(watcherPath, watcherIface+".StatusNotifierItemRegistered", item.Dest+string(item.Path))
	select {
	case w.registered <- item:
	default: // nobody is counting that many registrations
	}
	return nil
}

// RegisterStatusNotifierHost is org.kde.StatusNotifierWatcher's method,
// exported for completeness; a tray item never calls it.
func (w *fakeWatcher) RegisterStatusNotifierHost(service string) *dbus.Error {
	return nil
}

// startFakeWatcher takes the watcher's well-known name on conn and exports
// the watcher there. Like a real watcher it says a host is registered, else
// some tray libraries decline to show an item.
func startFakeWatcher(t *testing.T, conn *dbus.Conn) *fakeWatcher {
	t.Helper()
	w := &fakeWatcher{conn: conn, registered: make(chan trayItem, 16)}
	if err := conn.Export(w, watcherPath, watcherIface); err != nil {
		t.Fatal(err)
	}
	props, err := prop.Export(conn, watcherPath, prop.Map{
		watcherIface: {
			"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
			"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
			"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.props = props
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("requesting %s: reply %v, %v", watcherName, reply, err)
	}
	return w
}

// waitItem returns the first item that registers within timeout.
func (w *fakeWatcher) waitItem(timeout time.Duration) (trayItem, bool) {
	select {
	case item := <-w.registered:
		return item, true
	case <-time.After(timeout):
		return trayItem{}, false
	}
}

// call makes a D-Bus method call bounded by dbusCallTimeout.
func call(obj dbus.BusObject, method string, args ...any) *dbus.Call {
	ctx, cancel := context.WithTimeout(context.Background(), dbusCallTimeout)
	defer cancel()
	return obj.CallWithContext(ctx, method, 0, args...)
}

// getProperty reads a property with org.freedesktop.DBus.Properties.Get, as
// a tray host does.
func getProperty(obj dbus.BusObject, iface, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := call(obj, "org.freedesktop.DBus.Properties.Get", iface, name).Store(&v)
	return v, err
}

// menuNode is a com.canonical.dbusmenu layout item, signature (ia{sv}av).
type menuNode struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// label is the item's "label" property, or "" if it has none.
func (n menuNode) label() string {
	s, _ := n.Props["label"].Value().(string)
	return s
}

// tooltipTitle is the title of a StatusNotifierItem ToolTip, whose
// signature is (sa(iiay)ss): icon name, icon pixmaps, title, text.
func tooltipTitle(tip []any) string {
	if len(tip) < 3 {
		return ""
	}
	s, _ := tip[2].(string)
	return s
}

// flattenMenu returns n and all its descendants.
func flattenMenu(n menuNode) ([]menuNode, error) {
	all := []menuNode{n}
	for _, c := range n.Children {
		var child menuNode
		if err := dbus.Store([]any{c.Value()}, &child); err != nil {
			return nil, fmt.Errorf("menu item %d has a malformed child %v: %w", n.ID, c, err)
		}
		sub, err := flattenMenu(child)
		if err != nil {
			return nil, err
		}
		all = append(all, sub...)
	}
	return all, nil
}

// httpStatus returns the status of GET url. It uses its own transport
// without keep-alives so that no idle connection goroutine outlives the
// test.
func httpStatus(t *testing.T, url string) int {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestTrayQuitOverDBus drives the real binary's tray the way a desktop's
// tray host does, over a real (private) session bus: it checks what the item
// shows and that picking Quit in its menu stops decoder cleanly. It guards
// against what unit tests cannot see: the tray not registering at all, a
// missing or wrong title, tooltip or icon, a menu without Quit, and Quit
// panicking or leaving the process running.
func TestTrayQuitOverDBus(t *testing.T) {
	addr := startPrivateBus(t)
	conn := connectBus(t, addr)
	w := startFakeWatcher(t, conn)

	p := startDecoder(t, []string{"DBUS_SESSION_BUS_ADDRESS=" + addr, "PORT=" + freePort(t)})
	item, ok := w.waitItem(15 * time.Second)
	if !ok {
		t.Fatalf("no tray item registered with the watcher within 15s\nstderr:\n%s", p.stderr)
	}
	t.Logf("item registered: sender %s, service %q, at %s%s", item.Sender, item.Service, item.Dest, item.Path)

	// The item must be decoder's, not some other client of the bus.
	var pid uint32
	if err := call(conn.BusObject(), "org.freedesktop.DBus.GetConnectionUnixProcessID", item.Sender).Store(&pid); err != nil {
		t.Fatalf("GetConnectionUnixProcessID(%s): %v", item.Sender, err)
	}
	if int(pid) != p.cmd.Process.Pid {
		t.Fatalf("item registered by pid %d, want decoder's pid %d", pid, p.cmd.Process.Pid)
	}

	obj := conn.Object(item.Dest, item.Path)
	// What a host shows: the title, the tooltip (sa(iiay)ss: icon name,
	// icon pixmaps, title, text) and the icon (a(iiay): width, height and
	// ARGB32 pixels per size). decoder sets them in systray's onReady, which
	// systray runs concurrently with exporting the item, so poll for them
	// for a while rather than read them once.
	var (
		title string
		tip   []any
		icons []struct {
			W, H int32
			Pix  []byte
		}
		propsErr error
	)
	titleOK := func() bool { return title == trayTitle }
	tipOK := func() bool { return tooltipTitle(tip) == trayTitle+" — idle" }
	iconOK := func() bool {
		for _, icon := range icons {
			if icon.W > 0 && icon.H > 0 && len(icon.Pix) == int(icon.W*icon.H*4) {
				return true
			}
		}
		return false
	}
	eventually(5*time.Second, func() bool {
		var v dbus.Variant
		if v, propsErr = getProperty(obj, itemIface, "Title"); propsErr != nil {
			return false
		}
		title, _ = v.Value().(string)
		if v, propsErr = getProperty(obj, itemIface, "ToolTip"); propsErr != nil {
			return false
		}
		tip, _ = v.Value().([]any)
		if v, propsErr = getProperty(obj, itemIface, "IconPixmap"); propsErr != nil {
			return false
		}
		if propsErr = v.Store(&icons); propsErr != nil {
			return false
		}
		return titleOK() && tipOK() && iconOK()
	})
	if propsErr != nil {
		t.Errorf("reading the item's properties: %v", propsErr)
	}
	if !titleOK() {
		t.Errorf("item Title = %q, want %q", title, trayTitle)
	}
	if !tipOK() {
		t.Errorf("item ToolTip = %v, want %q", tip, trayTitle+" — idle")
	}
	if !iconOK() {
		t.Errorf("item IconPixmap has no usable icon: %d pixmaps", len(icons))
	}
	if !titleOK() && !tipOK() && !iconOK() {
		// The signature of a race in fyne.io/systray v1.12.2, which drops
		// what onReady sets while systray exports the item.
		t.Errorf("title, tooltip and icon all missing: systray likely dropped what runTray's onReady set while it exported the item; set them before systray.Run")
	}

	v, err := getProperty(obj, itemIface, "Menu")
	if err != nil {
		t.Fatalf("reading the item's Menu: %v", err)
	}
	menuPath, ok := v.Value().(dbus.ObjectPath)
	if !ok || !menuPath.IsValid() {
		t.Fatalf("item Menu = %v, want an object path", v)
	}
	// systray answers the first GetLayout with one level only, whatever
	// the depth asked; decoder's items are all on that level.
	var revision uint32
	var root menuNode
	if err := call(conn.Object(item.Dest, menuPath), menuIface+".GetLayout", int32(0), int32(-1), []string{}).Store(&revision, &root); err != nil {
		t.Fatalf("GetLayout on %s: %v", menuPath, err)
	}
	nodes, err := flattenMenu(root)
	if err != nil {
		t.Fatal(err)
	}
	var quitID int32
	var haveQuit, haveOpen bool
	var labels []string
	for _, n := range nodes {
		l := n.label()
		labels = append(labels, fmt.Sprintf("%d:%q", n.ID, l))
		switch {
		case strings.Contains(l, "Quit"):
			quitID, haveQuit = n.ID, true
		case l == "Open dashboard":
			haveOpen = true
		}
	}
	if !haveOpen {
		t.Errorf("the tray menu has no Open dashboard item; items: %s", strings.Join(labels, ", "))
	}
	if !haveQuit {
		t.Fatalf("the tray menu has no Quit item; items: %s", strings.Join(labels, ", "))
	}

	// The tray must not stand in the way of serving.
	if code := httpStatus(t, p.url+"/version"); code != http.StatusOK {
		t.Errorf("GET /version with the tray shown = %d, want 200", code)
	}

	err = call(conn.Object(item.Dest, menuPath), menuIface+".Event", quitID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
	if err != nil {
		// systray closes its connection as it quits, which may beat the
		// reply to this very call; the bus then answers NoReply for it.
		// That is harmless: the host does not wait for the reply.
		var dbusErr dbus.Error
		if !errors.As(err, &dbusErr) || dbusErr.Name != "org.freedesktop.DBus.Error.NoReply" {
			t.Errorf("clicking Quit: %v", err)
		} else {
			t.Logf("clicking Quit: %v (decoder went away before replying)", err)
		}
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after Quit, want 0\nstderr:\n%s", code, p.stderr)
	}
	stderr := p.stderr.String()
	for _, want := range []string{"quit picked in the tray", "stopped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "panic") {
		t.Errorf("decoder panicked:\n%s", stderr)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("decoder's stderr:\n%s", stderr)
	}
}

// TestHeadlessWithoutSessionBus checks that decoder runs headless, and says
// why, wherever the tray cannot work, rather than failing or panicking as
// the tray library does on Quit without a session bus; and that -headless
// keeps the tray away even where a session bus and a watcher exist.
func TestHeadlessWithoutSessionBus(t *testing.T) {
	type setup struct {
		env  []string
		args []string
		// want are what stderr must say, besides "running headless",
		// unless headless is false.
		want []string
		w    *fakeWatcher
	}
	cases := []struct {
		name string
		// headless is whether decoder must say it runs headless: with the
		// -headless flag it runs headless as asked, silently.
		headless bool
		setup    func(t *testing.T) setup
	}{
		{
			name:     "no bus address and no runtime dir",
			headless: true,
			setup: func(t *testing.T) setup {
				return setup{want: []string{"D-Bus", "DBUS_SESSION_BUS_ADDRESS"}}
			},
		},
		{
			name:     "runtime dir without a bus socket",
			headless: true,
			setup: func(t *testing.T) setup {
				dir := t.TempDir()
				return setup{
					env:  []string{"XDG_RUNTIME_DIR=" + dir},
					want: []string{"D-Bus", filepath.Join(dir, "bus")},
				}
			},
		},
		{
			name:     "bus address of a missing socket",
			headless: true,
			setup: func(t *testing.T) setup {
				return setup{
					env:  []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus"},
					want: []string{"D-Bus", "/nonexistent/bus"},
				}
			},
		},
		{
			name:     "headless flag with a session bus and a watcher",
			headless: false,
			setup: func(t *testing.T) setup {
				addr := startPrivateBus(t)
				return setup{
					env:  []string{"DBUS_SESSION_BUS_ADDRESS=" + addr},
					args: []string{"-headless"},
					w:    startFakeWatcher(t, connectBus(t, addr)),
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			p := startDecoder(t, append(s.env, "PORT="+freePort(t)), s.args...)

			if tc.headless {
				// decoder logs this just after its "listening" line.
				if !eventually(5*time.Second, func() bool { return strings.Contains(p.stderr.String(), "running headless") }) {
					t.Errorf("stderr does not say %q:\n%s", "running headless", p.stderr)
				}
				for _, want := range s.want {
					if !strings.Contains(p.stderr.String(), want) {
						t.Errorf("stderr does not mention %q:\n%s", want, p.stderr)
					}
				}
			}
			if s.w != nil {
				if item, ok := s.w.waitItem(time.Second); ok {
					t.Errorf("with -headless a tray item registered anyway: %+v", item)
				}
			}
			if code := httpStatus(t, p.url+"/version"); code != http.StatusOK {
				t.Errorf("GET /version = %d, want 200", code)
			}

			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t, 10*time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
			}
			if strings.Contains(p.stderr.String(), "panic") {
				t.Errorf("decoder panicked:\n%s", p.stderr)
			}
		})
	}
}
