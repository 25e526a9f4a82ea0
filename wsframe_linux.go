package main

import (
	"net"
	"syscall"
	"unsafe"
)

// iovecs is a batch's writev vector, kept with it so that a write that
// must not wait allocates nothing.
type iovecs [2 * (maxBatchFrames + maxFramesPerEntry)]syscall.Iovec

// socketOf is the descriptor of a TCP connection, whose writes can be tried
// without waiting.
func socketOf(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// writevNow writes b's buffers to the non-blocking socket fd in one
// writev(2); a socket that takes nothing now is not an error.
func writevNow(fd uintptr, b *frameBatch) (int, error) {
	n := 0
	for _, p := range b.bufs {
		if len(p) == 0 {
			continue
		}
		b.iov[n].Base = &p[0]
		b.iov[n].SetLen(len(p))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	for {
		r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&b.iov[0])), uintptr(n))
		switch errno {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, errno
	}
}
