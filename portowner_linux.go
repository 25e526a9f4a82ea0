package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portOwner names the process listening on TCP port, as "name, pid N",
// from /proc: the listening sockets of /proc/net/tcp and tcp6, then the
// process holding one of them. It finds only processes whose descriptors
// this user may read, and returns "" when it finds none.
func portOwner(port string) string {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return ""
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(table, uint16(n), inodes)
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid := p.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", pid, "fd"))
		for _, fd := range fds {
			link, _ := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name()))
			inode, ok := strings.CutPrefix(link, "socket:[")
			if ok && inodes[strings.TrimSuffix(inode, "]")] {
				comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
				return fmt.Sprintf("%s, pid %s", strings.TrimSpace(string(comm)), pid)
			}
		}
	}
	return ""
}

// listeningInodes adds the inodes of the sockets listening on port in a
// /proc/net/tcp table: local address "IP:PORT" in hex, state 0A (LISTEN),
// inode the tenth field.
func listeningInodes(table string, port uint16, inodes map[string]bool) {
	f, err := os.Open(table)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	suffix := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[3] == "0A" && strings.HasSuffix(fields[1], suffix) {
			inodes[fields[9]] = true
		}
	}
}
