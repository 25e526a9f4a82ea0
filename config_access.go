package main

import (
	"errors"
	"flag"
	"net"
	"os"
	"strconv"
	"strings"
)

// The settings of who may watch: the config file, -urls, tokens and TLS.

// AccessConfig is who may use decoder, and how it is reached.
type AccessConfig struct {
	// ConfigFile is the config file read, "" if none.
	ConfigFile string
	// Streams are the config file's named streams, checked.
	Streams []namedConfig
	// URLs lets pages play any source by its URL (url=), not only named
	// streams; nil leaves it to the address: on when decoder listens on
	// loopback only, off beyond, where any viewer could otherwise make
	// decoder connect to any address of the LAN.
	URLs *bool
	// InsecureNoAuth lets viewers on other machines watch without a
	// token.
	InsecureNoAuth bool
	// TLSCert and TLSKey, both or neither, serve https and wss.
	TLSCert, TLSKey string
	// TokenKey is the file of the key that signs viewer tokens.
	TokenKey string
}

// defineAccessFlags declares the flags of AccessConfig on fs.
func defineAccessFlags(fs *flag.FlagSet, ac *AccessConfig) {
	fs.StringVar(&ac.ConfigFile, "config", "", "config `file` (YAML): streams by name, and any flag by its name (default decoder.yaml in the user's config directory, "+shownConfigDir()+", when it exists)")
	fs.Var(optionalBool{&ac.URLs}, "urls", "let pages play any source URL (url=), not only the config file's named streams (src=); default true when decoder listens on loopback only, false beyond")
	fs.BoolVar(&ac.InsecureNoAuth, "insecure-no-auth", false, "let viewers on other machines watch without a token (decoder warns at every start)")
	fs.StringVar(&ac.TLSCert, "tls-cert", "", "certificate `file` (PEM) to serve https and wss on the same port, with -tls-key")
	fs.StringVar(&ac.TLSKey, "tls-key", "", "private key `file` (PEM) of -tls-cert")
}

// shownConfigDir is where decoder's config directory is, for -h.
func shownConfigDir() string {
	if dir := decoderConfigDir(); dir != "" {
		return dir
	}
	return "none here"
}

// optionalBool is a bool flag that tells whether it was set.
type optionalBool struct{ v **bool }

func (o optionalBool) String() string {
	if o.v == nil || *o.v == nil {
		return ""
	}
	return strconv.FormatBool(**o.v)
}

func (o optionalBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*o.v = &b
	return nil
}

func (o optionalBool) IsBoolFlag() bool { return true }

// urlsAllowed is -urls, or its default for the address.
func (cfg Config) urlsAllowed() bool {
	if cfg.URLs != nil {
		return *cfg.URLs
	}
	return !listensBeyondLoopback(cfg.Addr)
}

// listensBeyondLoopback reports whether other machines can reach addr:
// any address but a loopback one, all interfaces (0.0.0.0, ::) included.
func listensBeyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return !isLoopbackHost(strings.Trim(host, "[]"))
}

// validate checks the TLS files: both or neither, and readable.
func (ac AccessConfig) validate() error {
	switch {
	case (ac.TLSCert == "") != (ac.TLSKey == ""):
		return errors.New("-tls-cert and -tls-key go together: give both, or neither")
	case ac.TLSCert == "":
		return nil
	}
	for _, f := range []string{ac.TLSCert, ac.TLSKey} {
		if _, err := os.Stat(f); err != nil {
			return errors.New("cannot read " + f + ": " + err.Error())
		}
	}
	return nil
}
