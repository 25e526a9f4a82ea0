package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config file into a new directory and returns its
// path.
func writeConfig(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decoder.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noEnv is an environment without any variable.
func noEnv(string) string { return "" }

// TestConfigFileParse: streams by name in both forms and settings by flag
// name, lists included, reach the configuration.
func TestConfigFileParse(t *testing.T) {
	path := writeConfig(t, `# decoder's configuration
addr: 0.0.0.0:4000
linger: 7s
allowed-origins: [https://intranet.example.com, "http://*.corp.test:*"]
urls: true
streams:
  front-door: rtsp://admin:s3cretPW@192.168.1.20/stream1
  garage:
    url: rtsp://192.168.1.21/stream1
    transport: udp
  demo.1: demo://
`)
	cfg, err := parseConfig([]string{"-config", path}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConfigFile != path || cfg.Addr != "0.0.0.0:4000" || cfg.Live.Linger != 7*time.Second {
		t.Errorf("config %q addr %q linger %v, want the file's", cfg.ConfigFile, cfg.Addr, cfg.Live.Linger)
	}
	if want := []string{"https://intranet.example.com", "http://*.corp.test:*"}; !slices.Equal(cfg.AllowedOrigins, want) {
		t.Errorf("allowed origins %q, want %q", cfg.AllowedOrigins, want)
	}
	if !cfg.urlsAllowed() {
		t.Error("urls: true in the file did not turn url= on beyond loopback")
	}
	want := []namedConfig{
		{Name: "front-door", URL: "rtsp://admin:s3cretPW@192.168.1.20/stream1", Line: 7},
		{Name: "garage", URL: "rtsp://192.168.1.21/stream1", Transport: "udp", Line: 8},
		{Name: "demo.1", URL: "demo://", Line: 11},
	}
	if !slices.Equal(cfg.Streams, want) {
		t.Errorf("streams %+v, want %+v", cfg.Streams, want)
	}
}

// TestConfigFilePrecedence: the file sets what flags and variables leave
// alone; a variable wins over the file and a flag over both; the default
// file is the user's config directory's decoder.yaml when it exists, and
// DECODER_CONFIG names another.
func TestConfigFilePrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	if cfg, err := parseConfig(nil, noEnv, io.Discard); err != nil || cfg.ConfigFile != "" {
		t.Fatalf("without a file: config %q, err %v; want none read", cfg.ConfigFile, err)
	}
	if !defaultConfig(t).urlsAllowed() {
		t.Error("-urls is off by default on loopback")
	}
	def := filepath.Join(home, "decoder", "decoder.yaml")
	os.MkdirAll(filepath.Dir(def), 0o700)
	os.WriteFile(def, []byte("linger: 7s\nmax-viewers: 12\nstreams:\n  cam: demo://\n"), 0o600)
	other := writeConfig(t, "linger: 9s\n")
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		file       string
		linger     time.Duration
		maxViewers int
	}{
		{"default file", nil, nil, def, 7 * time.Second, 12},
		{"variable wins over the file", nil, map[string]string{"DECODER_LINGER": "3s"}, def, 3 * time.Second, 12},
		{"flag wins over both", []string{"-linger", "1s"}, map[string]string{"DECODER_LINGER": "3s"}, def, time.Second, 12},
		{"DECODER_CONFIG", nil, map[string]string{"DECODER_CONFIG": other}, other, 9 * time.Second, 10000},
		{"-config wins over DECODER_CONFIG", []string{"-config", def}, map[string]string{"DECODER_CONFIG": other}, def, 7 * time.Second, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConfigFile != tc.file || cfg.Live.Linger != tc.linger || cfg.Live.MaxViewers != tc.maxViewers {
				t.Errorf("file %q linger %v max-viewers %d, want %q %v %d", cfg.ConfigFile, cfg.Live.Linger, cfg.Live.MaxViewers, tc.file, tc.linger, tc.maxViewers)
			}
		})
	}
	if _, err := parseConfig([]string{"-config", filepath.Join(home, "missing.yaml")}, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a -config that does not exist: %v, want an error naming it", err)
	}
	os.WriteFile(def, []byte("linger: soon\n"), 0o600)
	if _, err := parseConfig([]string{"-h"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h with a bad file: %v, want the usage", err)
	}
	if cfg, err := parseConfig([]string{"-version"}, noEnv, io.Discard); err != nil || !cfg.ShowVersion {
		t.Errorf("-version with a bad file: %v, want the version", err)
	}
}

// TestConfigFileErrors: every kind of bad file fails with file:line and
// why, and none repeats a credential.
func TestConfigFileErrors(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"YAML error", "linger: 5s\nstreams:\n  cam: demo://\n   bad: [\n", ":4: "},
		{"tab indent", "streams:\n\tcam: demo://\n", ":2: a tab indents this line"},
		{"not a mapping", "- demo://\n", ":1: want settings by flag name"},
		{"unknown key", "linger: 5s\nlingr: 6s\n", `:2: unknown setting "lingr"`},
		{"invalid value", "linger: soon\n", ":1: linger: "},
		{"setting twice", "linger: 5s\nlinger: 6s\n", ":2: linger is set twice (first at line 1)"},
		{"config in the file", "config: other.yaml\n", ":1: config cannot be set in the config file"},
		{"invalid URL", "streams:\n  cam: rtsp://admin:s3cretPW@cam:99999/x\n", `:2: stream "cam": the source URL's port must be from 1 to 65535`},
		{"unsupported scheme", "streams:\n  cam: http://admin:s3cretPW@cam/x\n", `:2: stream "cam": unsupported source scheme "http"`},
		{"duplicate name", "streams:\n  cam: demo://\n  door: demo://\n  cam: demo://\n", `:4: stream "cam" is named twice (first at line 2)`},
		{"bad name", "streams:\n  front door: demo://\n", `:2: stream name "front door"`},
		{"no URL", "streams:\n  cam:\n", `:2: stream "cam" has no source URL`},
		{"unknown stream key", "streams:\n  cam:\n    url: demo://\n    codec: h264\n", `:4: stream "cam": unknown key "codec"`},
		{"bad transport", "streams:\n  cam:\n    url: rtsp://admin:s3cretPW@cam/x\n    transport: quic\n", `:2: stream "cam": transport must be tcp or udp`},
		{"text source", "streams:\n  cam: demo-text://\n", `:2: stream "cam": demo-text:// sends text`},
		{"streams not a mapping", "streams: [demo://]\n", ":1: streams: want a name and a source URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := parseConfig([]string{"-config", path}, noEnv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("error %v, want %q", err, path+tc.want)
			}
			if strings.Contains(err.Error(), "s3cretPW") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestConfigFileStartFails: the binary refuses to start with an invalid
// file, says where it is wrong, and exits 1.
func TestConfigFileStartFails(t *testing.T) {
	path := writeConfig(t, "streams:\n  cam: rtsp://admin:s3cretPW@cam/x\n  cam: demo://\n")
	cmd := exec.Command(decoderBinary(t), "-config", path, "-headless")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("decoder with an invalid file: %v, want exit 1\n%s", err, &stderr)
	}
	if want := path + `:3: stream "cam" is named twice`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", &stderr, want)
	}
}

// TestConfigUsage: decoder -h tells of the config file, the access flags
// and decoder token.
func TestConfigUsage(t *testing.T) {
	var out strings.Builder
	if _, err := parseConfig([]string{"-h"}, noEnv, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, want := range []string{"-config file", "[$DECODER_CONFIG]", "-urls", "-insecure-no-auth", "-tls-cert file", "-tls-key file",
		"decoder token -stream", "from the config file by its name", "decoder.yaml in the user's config directory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("decoder -h lacks %q", want)
		}
	}
}
