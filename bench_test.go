package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRingFanOut measures one publish read by N viewers' cursors: the
// work the engine does per message and viewer, without the sockets.
func BenchmarkRingFanOut(b *testing.B) {
	for _, viewers := range []int{100, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) { benchRingFanOut(b, viewers) })
	}
}

func benchRingFanOut(b *testing.B, viewers int) {
	r := newRing(sourceBufferMessages, 32<<20, time.Second)
	cursors := make([]cursor, viewers)
	msg := Message{Data: make([]byte, 10_000), Binary: true, Start: true}
	b.ReportAllocs()
	for b.Loop() {
		r.publish(msg)
		for i := range cursors {
			if res := r.read(&cursors[i], time.Second); !res.ok {
				b.Fatal("nothing to read")
			}
		}
	}
}

// reportFunc takes a benchmark's figures: b.ReportMetric, or the suite's
// collector.
type reportFunc func(value float64, unit string)

// metricsOf reads a decoder process's /metrics.
func metricsOf(b testing.TB, base string) map[string]float64 {
	b.Helper()
	m, err := readMetrics(context.Background(), base+"/metrics")
	if err != nil {
		b.Fatal(err)
	}
	return m
}
