package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStats are the process figures /metrics reports and leak tests watch.
type procStats struct {
	openFDs    int
	rssBytes   int64
	cpuSeconds float64
}

func readProcStats() (procStats, bool) {
	var p procStats
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return p, false
	}
	p.openFDs = len(fds) - 1 // the directory being read
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return p, false
	}
	if f := strings.Fields(string(statm)); len(f) > 1 {
		pages, _ := strconv.ParseInt(f[1], 10, 64)
		p.rssBytes = pages * int64(os.Getpagesize())
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.cpuSeconds = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return p, true
}
