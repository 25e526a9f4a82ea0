package main

import (
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
)

// handleMetrics serves the Prometheus text format, written by hand: a dozen
// series do not need a client library.
func handleMetrics(h *Hub) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		m := &h.metrics
		metric := func(name, typ, help string, value any) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, value)
		}
		metric("decoder_viewers", "gauge", "Viewers connected to /live.", m.viewers.Load())
		metric("decoder_producers", "gauge", "Source producers running.", m.producers.Load())
		metric("decoder_viewers_total", "counter", "Viewers accepted since start.", m.viewersTotal.Load())
		metric("decoder_sent_bytes_total", "counter", "Bytes of messages delivered to viewers.", m.bytesSent.Load())
		metric("decoder_sent_messages_total", "counter", "Messages delivered to viewers.", m.messagesSent.Load())
		metric("decoder_dropped_messages_total", "counter", "Messages skipped for viewers that fell behind.", m.droppedMessages.Load())
		metric("decoder_slow_viewers_closed_total", "counter", "Viewers closed for staying behind live.", m.slowClosed.Load())

		m.closesMu.Lock()
		codes := make([]int, 0, len(m.closes))
		for code := range m.closes {
			codes = append(codes, code)
		}
		sort.Ints(codes)
		b.WriteString("# HELP decoder_viewer_closes_total Viewer sessions ended, by close code.\n# TYPE decoder_viewer_closes_total counter\n")
		for _, code := range codes {
			fmt.Fprintf(&b, "decoder_viewer_closes_total{code=\"%d\"} %d\n", code, m.closes[code])
		}
		m.closesMu.Unlock()

		metric("go_goroutines", "gauge", "Goroutines that currently exist.", runtime.NumGoroutine())
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		metric("go_memstats_heap_inuse_bytes", "gauge", "Heap bytes in use.", ms.HeapInuse)
		metric("go_memstats_stack_inuse_bytes", "gauge", "Goroutine stack bytes in use.", ms.StackInuse)
		if p, ok := readProcStats(); ok {
			metric("process_open_fds", "gauge", "Open file descriptors.", p.openFDs)
			metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.rssBytes)
			metric("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", fmt.Sprintf("%.3f", p.cpuSeconds))
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, b.String())
	}
}
