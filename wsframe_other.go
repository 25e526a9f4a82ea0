//go:build !linux

package main

import (
	"net"
	"syscall"
)

// iovecs is empty where writes are never tried without waiting.
type iovecs struct{}

// socketOf is nil here: every write to a viewer is made by a goroutine of
// its own, which may wait.
func socketOf(net.Conn) syscall.RawConn { return nil }

// writevNow is never called where socketOf is nil.
func writevNow(uintptr, *frameBatch) (int, error) { return 0, syscall.ENOSYS }
