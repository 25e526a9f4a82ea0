//go:build unix && !darwin

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// notifyTimeout bounds the whole exchange with the notification server.
const notifyTimeout = 3 * time.Second

// notifyDesktop shows a desktop notification through the freedesktop
// notification service (org.freedesktop.Notifications) on the session bus.
// It connects for this one message: notifications are rare (at most one
// per camera per hour), and no connection is left to look after.
func notifyDesktop(summary, body string) error {
	addr, why := sessionBusAddress()
	if addr == "" {
		return fmt.Errorf("%w: %s", errNoNotifier, why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: %v", errNoNotifier, err)
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
	// Notify(app_name, replaces_id, app_icon, summary, body, actions,
	// hints, expire_timeout): -1 leaves the timeout to the server.
	call := obj.CallWithContext(ctx, "org.freedesktop.Notifications.Notify", 0,
		"decoder", uint32(0), "decoder", summary, body, []string{}, map[string]dbus.Variant{}, int32(-1))
	if call.Err != nil {
		return fmt.Errorf("the desktop did not take the notification: %w", call.Err)
	}
	return nil
}
