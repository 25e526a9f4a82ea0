package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// nginxConfig is the configuration README's "Beyond one machine" shows:
// viewers of a camera hashed, by the camera's name or URL, to one decoder,
// WebSocket upgrades passed on, the client's address forwarded.
const nginxConfig = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream decoders {
        hash $arg_src$arg_url consistent;
%[2]s    }
    server {
        listen 127.0.0.1:%[3]s;
        location / {
            proxy_pass http://decoders;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
        }
    }
}
`

// startNginx runs Debian's nginx with nginxConfig in front of backends,
// and returns its address.
func startNginx(t *testing.T, backends []string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/nginx"); err != nil {
			t.Fatal("nginx not found: ./deps.sh installs it (apt-get install nginx-light)")
		}
		bin = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	var servers string
	for _, b := range backends {
		servers += fmt.Sprintf("        server %s max_fails=1 fail_timeout=10s;\n", b)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(nginxConfig, dir, servers, port)), 0o644)
	cmd := exec.Command(bin, "-c", conf, "-p", dir)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	waitFor(t, 10*time.Second, "nginx to listen", func() bool {
		resp, err := http.Get("http://" + addr + "/version")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return addr
}

// reconnectingViewer plays u as the player does: it reads, and when the
// connection ends, dials again after a wait that doubles from 0.5 s. It
// records when media last arrived and, after a drop, how long media took
// to come back.
type reconnectingViewer struct {
	lastMedia atomic.Int64 // Unix ns
	downAt    atomic.Int64 // Unix ns of the last drop, 0 once back
	worstBack atomic.Int64 // longest time from a drop to media, ns
	drops     atomic.Int32
}

func (v *reconnectingViewer) run(ctx context.Context, u string) {
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, err := websocket.Dial(dctx, u, nil)
		cancel()
		if err == nil {
			c.SetReadLimit(4 << 20)
			wait = 500 * time.Millisecond
			for {
				typ, _, err := c.Read(ctx)
				if err != nil {
					break
				}
				if typ == websocket.MessageBinary {
					now := time.Now().UnixNano()
					v.lastMedia.Store(now)
					if down := v.downAt.Swap(0); down != 0 {
						if d := now - down; d > v.worstBack.Load() {
							v.worstBack.Store(d)
						}
					}
				}
			}
			c.CloseNow()
			if ctx.Err() == nil {
				v.drops.Add(1)
				v.downAt.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// streamsOf lists the sources a decoder runs.
func streamsOf(t *testing.T, base string) []streamInfo {
	resp, err := http.Get(base + "/streams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Data []streamInfo }
	json.NewDecoder(resp.Body).Decode(&env)
	return env.Data
}

// TestCluster: three decoders behind Debian's nginx hashing viewers by
// camera: 300 viewers of six cameras make one RTSP session per camera in
// the whole cluster; when one decoder stops, its viewers reconnect, land on
// the decoder that now owns their camera and play again within the
// player's retry time.
func TestCluster(t *testing.T) {
	clusterRun(t, func(float64, string) {})
}

// clusterRun is TestCluster's scenario, which the benchmark suite runs
// too: it reports the most RTSP sessions any camera had while the three
// decoders ran, and how long the moved viewers waited at worst to play
// again.
func clusterRun(t *testing.T, report reportFunc) {
	var cams []*testCamera
	for range 6 {
		cams = append(cams, startTestCamera(t, demoClip))
	}
	var decs []*process
	var backends []string
	for range 3 {
		p := startDecoder(t, []string{"PORT=" + freePort(t)}, "-headless", "-trusted-proxies", "127.0.0.1", "-linger", "1s")
		decs = append(decs, p)
		backends = append(backends, p.url[len("http://"):])
	}
	front := startNginx(t, backends)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	viewers := make([][]*reconnectingViewer, len(cams))
	for i, cam := range cams {
		for range 50 {
			v := &reconnectingViewer{}
			viewers[i] = append(viewers[i], v)
			u := "ws://" + front + "/live?url=" + url.QueryEscape(cam.url())
			wg.Go(func() { v.run(ctx, u) })
		}
	}
	allPlaying := func() bool {
		for _, vs := range viewers {
			for _, v := range vs {
				if time.Since(time.Unix(0, v.lastMedia.Load())) > 2*time.Second {
					return false
				}
			}
		}
		return true
	}
	waitFor(t, 30*time.Second, "all 300 viewers to play", allPlaying)

	owner := map[string]int{}
	for d, p := range decs {
		for _, s := range streamsOf(t, p.url) {
			if _, dup := owner[s.URL]; dup {
				t.Errorf("%s runs on two decoders", s.URL)
			}
			owner[s.URL] = d
		}
	}
	most := 0
	for i, cam := range cams {
		opened, _, _ := cam.sessions()
		if opened != 1 {
			t.Errorf("camera %d: %d RTSP sessions in the cluster, want 1", i, opened)
		}
		most = max(most, opened)
	}
	report(float64(most), "sessions")
	// Stop the decoder that owns the first camera.
	stopped := owner[cams[0].url()]
	t.Logf("cameras by decoder: %v; stopping decoder %d", owner, stopped)
	decs[stopped].cmd.Process.Signal(syscall.SIGTERM)
	decs[stopped].wait(t, 10*time.Second)
	waitFor(t, 20*time.Second, "the moved viewers to play again", func() bool {
		for i, cam := range cams {
			for _, v := range viewers[i] {
				if owner[cam.url()] == stopped && (v.drops.Load() == 0 || v.downAt.Load() != 0) {
					return false
				}
			}
		}
		return true
	})
	var worst time.Duration
	for i, cam := range cams {
		moved := owner[cam.url()] == stopped
		opened, _, _ := cam.sessions()
		if want := map[bool]int{false: 1, true: 2}[moved]; opened != want {
			t.Errorf("camera %d (moved %v): %d RTSP sessions in all, want %d", i, moved, opened, want)
		}
		for _, v := range viewers[i] {
			if !moved && v.drops.Load() != 0 {
				t.Errorf("a viewer of camera %d, whose decoder kept running, was dropped", i)
			}
			worst = max(worst, time.Duration(v.worstBack.Load()))
		}
	}
	t.Logf("moved viewers played again after %v at worst", worst.Round(time.Millisecond))
	report(float64(worst.Milliseconds()), "back_ms")
	// A liveness bound: the player retries within 10 s at most.
	if worst > 10*time.Second {
		t.Errorf("moved viewers waited up to %v to play again", worst)
	}
}

// renderCluster writes the section of BENCHMARKS.md on several decoders
// behind nginx.
func renderCluster(w *bytes.Buffer, f figures) {
	fmt.Fprintf(w, `
## Several decoders behind nginx

Three decoders behind Debian's nginx, which hashes `+"`/live`"+` by camera
(`+"`hash $arg_src$arg_url consistent`"+`; see the README), 300 viewers of six RTSP
cameras, then one decoder stopped (`+"`TestCluster`"+`). The viewers reconnect
as the player does (0.5 s, doubling).

| | |
|---|---|
| RTSP sessions per camera in the whole cluster (most) | %s |
| moved viewers playing again after the decoder stopped (worst) | %s ms |
`, f.med("cluster sessions", "%.0f"), f.med("cluster back_ms", "%.0f"))
}
