package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is everything an operator can set. Every field has a flag and an
// environment variable (DECODER_ followed by the flag name in capitals with
// dashes as underscores); a flag on the command line wins over the variable.
type Config struct {
	// Addr is the host:port to listen on. The default host is 127.0.0.1 so
	// that a desktop service is not open to the LAN unless asked.
	Addr string
	// AllowedOrigins lists extra page origins allowed to use the API and
	// /live. Loopback pages and decoder's own pages are always allowed.
	AllowedOrigins []string
	// TrustedProxies lists the reverse proxies (CIDRs) whose
	// X-Forwarded-For and Forwarded headers are believed.
	TrustedProxies []string
	// AllowedHosts lists extra Host header names accepted besides IP
	// literals and localhost; any other name is refused (DNS rebinding).
	AllowedHosts []string
	// Headless skips the tray icon even where a desktop session exists.
	Headless bool
	// ShutdownTimeout bounds a graceful stop; what has not finished by then
	// is closed abruptly.
	ShutdownTimeout time.Duration
	// ShowVersion prints the version and exits.
	ShowVersion bool
	// Pprof is a loopback host:port that serves net/http/pprof; empty
	// serves none.
	Pprof string
	// Replace asks a decoder already on the port to stop, and takes its
	// place; without it a second decoder shows the first and exits.
	Replace bool

	AccessConfig
	Live LiveConfig
}

// LiveConfig holds the /live session engine's limits and timings.
type LiveConfig struct {
	// Linger keeps a producer running this long after its last viewer leaves,
	// so a page reload does not restart the source.
	Linger time.Duration
	// PingInterval is how often each viewer is pinged; the first ping is
	// jittered so that viewers that joined together do not ping together.
	PingInterval time.Duration
	// PongTimeout is how long a viewer may stay silent after a ping. A dead
	// peer is closed PingInterval+PongTimeout after its last frame at most.
	PongTimeout time.Duration
	// WriteTimeout bounds every write to a viewer; a viewer that takes no
	// data for this long is closed.
	WriteTimeout time.Duration
	// MaxBacklog is how far behind the newest message a viewer may be before
	// it skips ahead to the newest starting point, dropping what it missed.
	MaxBacklog time.Duration
	// MaxLag closes a viewer that has stayed behind live this long.
	MaxLag time.Duration
	// StatsInterval is how often each viewer gets a stats message.
	StatsInterval time.Duration
	// MaxMessageBytes caps a message from a viewer (close 1009 beyond).
	MaxMessageBytes int64
	// SendBuffer caps the kernel send buffer of each viewer's socket, so the
	// kernel cannot hide seconds of backlog from the slow-viewer checks.
	SendBuffer int
	// MaxViewers, MaxViewersPerSource and MaxSources bound the service.
	MaxViewers          int
	MaxViewersPerSource int
	MaxSources          int
	// BufferBudget bounds the bytes all sources together keep for their
	// viewers; each keeps at most an eighth of it, and less when more than
	// eight run, so that many sources of large frames cannot exhaust the
	// machine's memory.
	BufferBudget int64
	// FFmpeg is the ffmpeg that transcodes; empty finds it on PATH. Without
	// one, sources pass through and G.711 becomes FLAC, but what needs
	// transcoding fails with a message saying so.
	FFmpeg string
	// TranscodeEncoder is the H.264 encoder of transcodes; auto tries the
	// machine's hardware encoders once and falls back to libx264.
	TranscodeEncoder string
	// MaxTranscodes bounds the ffmpeg processes that transcode at once,
	// snapshots included; beyond it outputs are refused (4429) and
	// snapshots wait.
	MaxTranscodes int

	Sources SourceConfig
}

// SourceConfig is how decoder pulls sources.
type SourceConfig struct {
	// Timeout bounds every exchange with a camera and how long a playing
	// source may send no video before it counts as stalled.
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to reach a
	// source: it doubles from RetryMin up to RetryMax, with jitter.
	RetryMin, RetryMax time.Duration
	// Retries ends a source when this many retries in a row (after its
	// first attempt) have failed; 0 retries for as long as it has viewers.
	Retries int
	// MediaDir is the directory file:// sources are read from; empty turns
	// them off. Pages name files only inside it.
	MediaDir string
}

// defaultPort is the design document's port, overridden by $PORT.
const defaultPort = "3000"

// envPrefix starts every configuration variable's name.
const envPrefix = "DECODER_"

// envName returns the environment variable that sets the flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// listValue is a comma-separated flag value.
type listValue struct{ items *[]string }

func (l listValue) String() string {
	if l.items == nil {
		return ""
	}
	return strings.Join(*l.items, ",")
}

func (l listValue) Set(s string) error {
	*l.items = (*l.items)[:0]
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l.items = append(*l.items, item)
		}
	}
	return nil
}

// parseConfig reads the configuration from the environment and then from
// args; a flag on the command line wins, even over a variable that is not
// valid. It returns flag.ErrHelp after printing the usage for -h.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("decoder", flag.ContinueOnError)
	fs.SetOutput(output)
	defineFlags(fs, &cfg)
	fs.Usage = func() { printUsage(fs, output) }

	file, err := findConfigFile(args, getenv)
	if err == nil {
		err = file.apply(fs)
	}
	if err != nil {
		return cfg, err
	}
	envErrs := applyEnv(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; see decoder -h", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { delete(envErrs, f.Name) })
	for _, f := range sortedFlags(fs) {
		if err := envErrs[f]; err != nil {
			return cfg, err
		}
	}

	addr, err := listenAddr(cfg.Addr, getenv("PORT"))
	if err != nil {
		return cfg, err
	}
	cfg.Addr = addr
	cfg.ConfigFile, cfg.Streams, cfg.TokenKey = file.path, file.streams, defaultTokenKeyPath()
	if err := errors.Join(cfg.Live.validate(), cfg.AccessConfig.validate()); err != nil {
		return cfg, err
	}
	return cfg, file.checkStreams(cfg.Live.Sources)
}

// defineFlags declares every flag of decoder on fs, writing into cfg.
func defineFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1", "`host` or host:port to listen on; without a port, $PORT or "+defaultPort+" is used")
	fs.Var(listValue{&cfg.AllowedOrigins}, "allowed-origins", "comma-separated extra page `origins` allowed to use decoder (e.g. https://app.example.com, http://*.example.com:*, null, or * for any)")
	fs.Var(listValue{&cfg.TrustedProxies}, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For and Forwarded headers are believed (e.g. 127.0.0.1/32 for nginx on this machine)")
	fs.Var(listValue{&cfg.AllowedHosts}, "allowed-hosts", "comma-separated extra Host `names` accepted besides IP literals and localhost")
	fs.BoolVar(&cfg.Headless, "headless", false, "run without a tray icon")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 5*time.Second, "how long a graceful stop may take")
	fs.BoolVar(&cfg.ShowVersion, "version", false, "print the version and exit")
	fs.StringVar(&cfg.Pprof, "pprof", "", "serve Go's profiles (net/http/pprof) on this loopback `host:port`, e.g. 127.0.0.1:6060")
	fs.BoolVar(&cfg.Replace, "replace", false, "ask a decoder already running on the port to stop, and take its place")
	defineAccessFlags(fs, &cfg.AccessConfig)

	lc := &cfg.Live
	fs.DurationVar(&lc.Linger, "linger", 5*time.Second, "keep a source running this long after its last viewer leaves")
	fs.DurationVar(&lc.PingInterval, "ping-interval", 5*time.Second, "how often each viewer is pinged")
	fs.DurationVar(&lc.PongTimeout, "pong-timeout", 5*time.Second, "close a viewer silent this long after a ping")
	fs.DurationVar(&lc.WriteTimeout, "write-timeout", 5*time.Second, "close a viewer that takes no data for this long")
	fs.DurationVar(&lc.MaxBacklog, "max-backlog", 2*time.Second, "a viewer this far behind skips ahead, dropping what it missed")
	fs.DurationVar(&lc.MaxLag, "max-lag", 10*time.Second, "close a viewer that stays behind live this long (\"too slow\")")
	fs.DurationVar(&lc.StatsInterval, "stats-interval", time.Second, "how often each viewer gets a stats message")
	fs.Int64Var(&lc.MaxMessageBytes, "max-message", 64<<10, "largest message accepted from a viewer, in `bytes`")
	fs.IntVar(&lc.SendBuffer, "send-buffer", 64<<10, "kernel send buffer of each viewer's socket, in `bytes` (0 leaves the system's)")
	fs.IntVar(&lc.MaxViewers, "max-viewers", 10000, "most viewers at once")
	fs.IntVar(&lc.MaxViewersPerSource, "max-viewers-per-source", 10000, "most viewers of one source at once")
	fs.IntVar(&lc.MaxSources, "max-sources", 64, "most sources running at once")
	fs.StringVar(&lc.FFmpeg, "ffmpeg", "", "the ffmpeg `program` transcodes run (empty: ffmpeg on PATH)")
	fs.StringVar(&lc.TranscodeEncoder, "transcode-encoder", encoderAuto, "H.264 `encoder` of transcodes: auto (hardware if it works here, else libx264), libx264, h264_vaapi, h264_qsv, h264_nvenc, h264_videotoolbox, h264_mf, h264_v4l2m2m")
	fs.IntVar(&lc.MaxTranscodes, "max-transcodes", max(1, runtime.NumCPU()/2), "most ffmpeg transcodes and snapshots at once")
	fs.Int64Var(&lc.BufferBudget, "buffer-budget", 256<<20, "most `bytes` all sources together keep for their viewers (268435456 is 256 MiB); one source keeps up to an eighth")
	sc := &lc.Sources
	fs.DurationVar(&sc.Timeout, "source-timeout", 10*time.Second, "bound on each exchange with a camera, and on a silence in its video before it counts as stalled")
	fs.DurationVar(&sc.RetryMin, "retry-min", 500*time.Millisecond, "first wait before reconnecting to a failed source; it doubles on each failure")
	fs.DurationVar(&sc.RetryMax, "retry-max", time.Second, "longest wait between reconnection attempts: how long a camera that came back may wait")
	fs.IntVar(&sc.Retries, "retries", 0, "give a source up when this many retries in a row have failed (0: keep trying while it has viewers)")
	fs.StringVar(&sc.MediaDir, "media-dir", "", "`directory` that file:// sources are read from (empty: file sources off)")
}

// printUsage is decoder -h: every flag with its default and variable.
func printUsage(fs *flag.FlagSet, output io.Writer) {
	fmt.Fprintf(output, "decoder %s: plays RTSP cameras and other live sources in web pages.\n\n", Version)
	fmt.Fprintf(output, "Usage:\n  decoder [flags]\n  decoder load [flags]    load generator for a running decoder (decoder load -h)\n  decoder autostart on [flags] | off | status\n                          start decoder at login with those flags, or not\n  decoder token -stream NAME[,NAME…|*] [-ttl 24h] [-name phone] | -rotate\n                          print a viewer token and link for other machines, or revoke them all\n  decoder forget          stop this user's decoders, turn start at login off, remove the log and the\n                          token key: what removing decoder leaves otherwise\n\nFlags (each also read from the environment variable shown, and from the config file by its name\nwithout the dash; a flag given on the command line wins over the variable, which wins over the file):\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(output, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(output, " %s", name)
		}
		fmt.Fprintf(output, "\n    \t%s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(output, " (default %s)", f.DefValue)
		}
		if f.Name != "version" {
			fmt.Fprintf(output, " [$%s]", envName(f.Name))
		}
		fmt.Fprintln(output)
	})
	fmt.Fprintf(output, "\nPORT sets the port when -addr has none (default %s).\n", defaultPort)
	if trayBuildNote != "" {
		fmt.Fprintf(output, "\n%s\n", trayBuildNote)
	}
}

// applyEnv sets each flag from its environment variable, and returns the
// variables that are not valid, by flag name.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) map[string]error {
	errs := map[string]error{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs[f.Name] = fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	return errs
}

// sortedFlags lists fs's flag names in order, so that errors are reported
// in a stable order.
func sortedFlags(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// listenAddr joins host with port unless host already carries one.
func listenAddr(host, port string) (string, error) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return "", fmt.Errorf("invalid port %q in -addr %q", p, host)
		}
		return net.JoinHostPort(h, p), nil
	}
	if port == "" {
		port = defaultPort
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("invalid PORT %q: want a number from 0 to 65535", port)
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port), nil
}

func (lc LiveConfig) validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("-%s must be positive, got %v", name, d))
		}
	}
	positive("ping-interval", lc.PingInterval)
	positive("pong-timeout", lc.PongTimeout)
	positive("write-timeout", lc.WriteTimeout)
	positive("max-backlog", lc.MaxBacklog)
	positive("max-lag", lc.MaxLag)
	positive("stats-interval", lc.StatsInterval)
	positive("source-timeout", lc.Sources.Timeout)
	positive("retry-min", lc.Sources.RetryMin)
	if lc.Sources.RetryMax < lc.Sources.RetryMin {
		errs = append(errs, fmt.Errorf("-retry-max (%v) must not be less than -retry-min (%v)", lc.Sources.RetryMax, lc.Sources.RetryMin))
	}
	if dir := lc.Sources.MediaDir; dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("-media-dir %q is not a directory", dir))
		}
	}
	if lc.Sources.Retries < 0 {
		errs = append(errs, fmt.Errorf("-retries must not be negative, got %d", lc.Sources.Retries))
	}
	if lc.Linger < 0 {
		errs = append(errs, fmt.Errorf("-linger must not be negative, got %v", lc.Linger))
	}
	if lc.MaxMessageBytes < 128 {
		errs = append(errs, fmt.Errorf("-max-message must be at least 128 bytes, got %d", lc.MaxMessageBytes))
	}
	if err := validEncoder(lc.TranscodeEncoder); err != nil {
		errs = append(errs, err)
	}
	if lc.MaxTranscodes < 1 {
		errs = append(errs, fmt.Errorf("-max-transcodes must be at least 1, got %d", lc.MaxTranscodes))
	}
	if lc.BufferBudget < 8<<20 {
		errs = append(errs, fmt.Errorf("-buffer-budget must be at least 8 MiB (8388608), got %d", lc.BufferBudget))
	}
	if lc.SendBuffer < 0 {
		errs = append(errs, fmt.Errorf("-send-buffer must not be negative, got %d", lc.SendBuffer))
	}
	for name, n := range map[string]int{"max-viewers": lc.MaxViewers, "max-viewers-per-source": lc.MaxViewersPerSource, "max-sources": lc.MaxSources} {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("-%s must be positive, got %d", name, n))
		}
	}
	return errors.Join(errs...)
}
