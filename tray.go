//go:build !darwin || cgo

package main

import (
	"context"
	"sync"
	"time"

	"fyne.io/systray"
)

// trayTick is how often the tray looks at the hub: often enough to follow
// viewers joining and leaving, rarely enough to cost nothing. The desktop
// hears of a change only when there is one.
const trayTick = time.Second

// Slots for the submenus' items: systray can only hide items, not remove
// them cleanly, so each submenu has a fixed number, shown as needed.
const (
	troubleSlots = 5
	labelMax     = 80 // characters of a URL or reason in a menu line
)

// runTray shows the tray icon with its menu until ctx is done or the user
// picks Quit, then removes it. It must run on the main goroutine, which some
// desktops require of their UI, and only where trayAvailable says so: the
// tray library panics on Quit without a session bus.
func runTray(ctx context.Context, d trayDeps) {
	view := viewOf(d.hub.summary())
	presetTray(trayTitle, view.status)
	systray.Run(func() {
		setTrayIcon()
		systray.SetTitle(trayTitle)
		systray.SetTooltip(view.status)
		m := newTrayMenu(d, view)
		go m.loop(ctx)
	}, nil)
}

// trayMenu is the tray's menu and what it last showed. Only its loop
// touches it once built.
type trayMenu struct {
	d trayDeps

	status       *systray.MenuItem
	trouble      *systray.MenuItem
	troubleItems []*systray.MenuItem
	open         *systray.MenuItem
	phone        *systray.MenuItem
	recent       *systray.MenuItem
	recentItems  []*systray.MenuItem
	autostart    *systray.MenuItem
	openLog      *systray.MenuItem // nil where the log goes to stderr
	quit         *systray.MenuItem

	view    trayView
	recents recentSources
	outages outageWatch
}

// newTrayMenu builds the menu: the status line, the cameras in trouble,
// Open dashboard, Watch on phone, Recent cameras, Start at login, Open log, About, Quit.
func newTrayMenu(d trayDeps, view trayView) *trayMenu {
	m := &trayMenu{d: d}
	m.status = systray.AddMenuItem(view.status, "What decoder is doing")
	m.status.Disable()
	m.trouble = systray.AddMenuItem("Cameras in trouble", "Cameras decoder is calling back, and why")
	for range troubleSlots + 1 { // the last slot says how many more
		it := m.trouble.AddSubMenuItem("", "")
		it.Disable()
		it.Hide()
		m.troubleItems = append(m.troubleItems, it)
	}
	m.trouble.Hide()
	systray.AddSeparator()
	m.open = systray.AddMenuItem("Open dashboard", "Open decoder's page in the browser")
	m.phone = systray.AddMenuItem("Watch on phone…", "Open the dashboard's viewer links: a link and QR code that a phone on this network opens")
	m.recent = systray.AddMenuItem("Recent cameras", "Open the page on a source viewed lately")
	for range recentMax {
		it := m.recent.AddSubMenuItem("", "")
		it.Hide()
		m.recentItems = append(m.recentItems, it)
	}
	m.recent.Disable()
	systray.AddSeparator()
	m.autostart = systray.AddMenuItemCheckbox("Start at login", "Start decoder when you log in", false)
	if d.logPath != "" {
		m.openLog = systray.AddMenuItem("Open log", d.logPath)
	}
	about := systray.AddMenuItem("About", "decoder's version")
	for _, line := range []string{trayTitle + " " + versionLine(), "Serving " + d.pageURL} {
		about.AddSubMenuItem(line, "").Disable()
	}
	systray.AddSeparator()
	m.quit = systray.AddMenuItem("退出 / Quit", "Stop decoder")
	m.show(view)
	m.syncAutostart()
	return m
}

// loop handles clicks and follows the hub until ctx is done or Quit is
// picked, then ends the tray.
func (m *trayMenu) loop(ctx context.Context) {
	defer systray.Quit()
	recentClicks, stop := forwardClicks(m.recentItems)
	defer stop()
	var logClicks <-chan struct{}
	if m.openLog != nil {
		logClicks = m.openLog.ClickedCh
	}
	tick := time.NewTicker(trayTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.quit.ClickedCh:
			m.d.log.Info("quit picked in the tray")
			return
		case <-m.open.ClickedCh:
			m.openPage(m.d.pageURL + "/")
		case <-m.phone.ClickedCh:
			m.openPage(m.d.pageURL + "/#" + phonePanelID)
		case i := <-recentClicks:
			if i < len(m.recents.items) {
				m.openPage(pageFor(m.d.pageURL, m.recents.items[i].key))
			}
		case <-m.autostart.ClickedCh:
			m.toggleAutostart()
		case <-logClicks:
			m.openPage(m.d.logPath)
		case now := <-tick.C:
			m.refresh(now)
		}
	}
}

// forwardClicks merges the items' clicks into one channel of their
// indexes; stop ends the forwarding goroutines and waits for them.
func forwardClicks(items []*systray.MenuItem) (clicks <-chan int, stop func()) {
	ch := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-it.ClickedCh:
					select {
					case ch <- i:
					case <-done:
						return
					}
				}
			}
		})
	}
	return ch, func() {
		close(done)
		wg.Wait()
	}
}

// openPage opens a page (or the log file) in the desktop's program for it.
func (m *trayMenu) openPage(target string) {
	if err := openBrowser(target); err != nil {
		m.d.log.Warn("failed to open "+target, "err", err)
	}
}

// refresh looks at the hub and shows what changed; it also notifies of
// long outages and follows the autostart setting, which decoder autostart
// may have changed meanwhile.
func (m *trayMenu) refresh(now time.Time) {
	sum := m.d.hub.summary()
	if v := viewOf(sum); !v.equal(m.view) {
		m.show(v)
	}
	if m.recents.observe(sum) {
		m.showRecent()
	}
	for _, s := range m.outages.observe(sum, now) {
		m.notifyOutage(s)
	}
	m.syncAutostart()
}

// show puts v in the tooltip, the status line and the trouble submenu.
func (m *trayMenu) show(v trayView) {
	m.view = v
	systray.SetTooltip(v.status)
	m.status.SetTitle(v.status)
	if len(v.trouble) == 0 {
		m.trouble.Hide()
		return
	}
	m.trouble.SetTitle(plural(len(v.trouble), "camera") + " in trouble")
	m.trouble.Show()
	for i, it := range m.troubleItems {
		switch {
		case i < troubleSlots && i < len(v.trouble):
			it.SetTitle(shorten(v.trouble[i], labelMax))
			it.Show()
		case i == troubleSlots && len(v.trouble) > troubleSlots:
			it.SetTitle(plural(len(v.trouble)-troubleSlots, "more camera"))
			it.Show()
		default:
			it.Hide()
		}
	}
}

// showRecent lists the recent sources, credentials masked.
func (m *trayMenu) showRecent() {
	for i, it := range m.recentItems {
		if i < len(m.recents.items) {
			it.SetTitle(shorten(m.recents.items[i].display, labelMax))
			it.Show()
		} else {
			it.Hide()
		}
	}
	m.recent.Enable()
}

// notifyOutage tells of a camera that was live and has been unreachable
// for a minute: in the log always, on the desktop where it can.
func (m *trayMenu) notifyOutage(s streamSummary) {
	m.d.log.Warn("camera unreachable for a minute", "source", s.display, "reason", s.reason)
	body := shorten(s.display, labelMax) + " has been unreachable for a minute: " + s.reason
	if err := notifyDesktop(trayTitle+" — camera unreachable", body); err != nil {
		m.d.log.Debug("no desktop notification", "err", err)
	}
}

// toggleAutostart turns Start at login on (with decoder's flags) or off.
func (m *trayMenu) toggleAutostart() {
	st, err := autostartStatus()
	switch {
	case err != nil:
	case st.on:
		_, err = disableAutostart()
	default:
		var exe string
		if exe, err = autostartExecutable(); err == nil {
			_, err = enableAutostart(exe, m.d.args)
		}
	}
	if err != nil {
		m.d.log.Warn("Start at login", "err", err)
	}
	m.syncAutostart()
}

// syncAutostart makes the check mark say whether decoder starts at login.
func (m *trayMenu) syncAutostart() {
	st, err := autostartStatus()
	if on := err == nil && st.on; on != m.autostart.Checked() {
		if on {
			m.autostart.Check()
		} else {
			m.autostart.Uncheck()
		}
	}
}
