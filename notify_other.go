//go:build windows || darwin

package main

// notifyDesktop returns errNoNotifier: notifications here need the
// system's UI frameworks (toasts, UserNotifications), which decoder does
// not link; the log and the tray's status line still tell.
func notifyDesktop(summary, body string) error { return errNoNotifier }
