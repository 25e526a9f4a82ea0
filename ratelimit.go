package main

import (
	"net"
	"sync"
	"time"
)

// Refused tokens are limited per peer: failBurst refusals at once, then one
// more every failEvery (ten a minute). Guessing an HS256 key is hopeless
// anyway; the limit keeps a guesser from costing decoder anything and
// keeps the log short. limiterPeers bounds what is remembered.
const (
	failBurst    = 10
	failEvery    = 6 * time.Second
	limiterPeers = 4096
)

// failLimiter counts refused tokens by peer address. While a peer is over
// its allowance, even a valid token from it is refused, or guessing would
// go on. Safe for concurrent use.
type failLimiter struct {
	burst int
	every time.Duration

	mu    sync.Mutex
	peers map[string]*failBucket
}

// failBucket is a peer's allowance: tokens left at the time at.
type failBucket struct {
	left float64
	at   time.Time
}

func newFailLimiter() *failLimiter {
	return &failLimiter{burst: failBurst, every: failEvery, peers: map[string]*failBucket{}}
}

// peerKey groups addresses the way one peer holds them: an IPv6 peer
// picks any address of its /64 at will.
func peerKey(ip net.IP) string {
	if ip.To4() == nil && ip.To16() != nil {
		return ip.Mask(net.CIDRMask(64, 128)).String()
	}
	return ip.String()
}

// fill brings b's allowance up to now. l.mu is held.
func (l *failLimiter) fill(b *failBucket, now time.Time) {
	b.left = min(float64(l.burst), b.left+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
}

// wait reports how long ip must wait before its tokens are looked at
// again; 0 when they are now.
func (l *failLimiter) wait(ip net.IP) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.peers[peerKey(ip)]
	if b == nil {
		return 0
	}
	l.fill(b, time.Now())
	if b.left >= 1 {
		return 0
	}
	return time.Duration((1-b.left)*float64(l.every)).Round(time.Second) + time.Second
}

// fail counts a refused token from ip.
func (l *failLimiter) fail(ip net.IP) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, key := time.Now(), peerKey(ip)
	b := l.peers[key]
	if b == nil {
		l.prune(now)
		b = &failBucket{left: float64(l.burst), at: now}
		l.peers[key] = b
	}
	l.fill(b, now)
	b.left = max(0, b.left-1)
}

// prune forgets peers whose allowance is whole again, and, should the
// table still be full, the rest: a flood of addresses cannot grow it
// without bound. l.mu is held.
func (l *failLimiter) prune(now time.Time) {
	if len(l.peers) < limiterPeers {
		return
	}
	for k, b := range l.peers {
		if l.fill(b, now); b.left >= float64(l.burst) || len(l.peers) >= limiterPeers {
			delete(l.peers, k)
		}
	}
}
