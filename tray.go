//go:build !darwin || cgo

package main

import (
	"context"
	"log/slog"

	"fyne.io/systray"
)

// trayTitle is the tray item's title, as the design document names it.
const trayTitle = "解码器"

// runTray shows the tray icon with its menu until ctx is done or the user
// picks Quit, then removes it. It must run on the main goroutine, which some
// desktops require of their UI, and only where trayAvailable says so: the
// tray library panics on Quit without a session bus.
func runTray(ctx context.Context, pageURL string, log *slog.Logger) {
	tooltip := trayTitle + " (decoder) " + Version + " — " + pageURL
	presetTray(trayTitle, tooltip)
	systray.Run(func() {
		setTrayIcon()
		systray.SetTitle(trayTitle)
		systray.SetTooltip(tooltip)
		open := systray.AddMenuItem("打开 / Open in browser", "Open decoder's page")
		systray.AddSeparator()
		quit := systray.AddMenuItem("退出 / Quit", "Stop decoder")
		go func() {
			for {
				select {
				case <-ctx.Done():
					systray.Quit()
					return
				case <-quit.ClickedCh:
					log.Info("quit picked in the tray")
					systray.Quit()
					return
				case <-open.ClickedCh:
					if err := openBrowser(pageURL); err != nil {
						log.Warn("failed to open the browser", "err", err)
					}
				}
			}
		}()
	}, nil)
}
