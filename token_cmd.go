package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// runToken is decoder token: it prints a viewer token for streams of the
// config file, and the link to decoder's page with it, for a phone on the
// LAN; with -rotate it first makes a new key, which revokes every token
// given so far. It reads decoder's configuration (its file, variables and
// -config) to know the streams and the address the link points to.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decoder token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	streams := fs.String("stream", "", "comma-separated `names` of the config file's streams the token allows, or * for all")
	ttl := fs.String("ttl", defaultLinkTTL, "how long the token is valid: 90m, 24h, 30d (at most 366d)")
	name := fs.String("name", "", "a `name` for whom the token is, which decoder's log shows when it is used (e.g. phone)")
	rotate := fs.Bool("rotate", false, "make a new key first: every token given so far stops working, and the sessions they opened end")
	configPath := fs.String("config", "", "decoder's config `file`, as decoder -config takes it (default: $DECODER_CONFIG, else decoder.yaml in the user's config directory)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  decoder token -stream NAME[,NAME…|*] [-ttl 24h] [-name phone]\n  decoder token -rotate\n\nPrints a viewer token and the link to decoder's page with it, for viewers on other machines.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q; see decoder token -h", fs.Arg(0))
	case !*rotate && *streams == "":
		return errors.New("say which streams the token is for: decoder token -stream front-door (or -stream '*' for all)")
	}
	var configArgs []string
	if *configPath != "" {
		configArgs = []string{"-config", *configPath}
	}
	cfg, err := parseConfig(configArgs, getenv, io.Discard)
	if err != nil {
		return fmt.Errorf("decoder's configuration: %w", err)
	}
	keys, err := newTokenKeys(cfg.TokenKey)
	if *rotate {
		if _, err = keys.rotate(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "new token key in %s: every viewer link given before it no longer works\n", keys.path)
	}
	if err != nil || *streams == "" {
		return err
	}
	return printViewerLink(cfg, keys, strings.Split(*streams, ","), *ttl, *name, stdout, stderr)
}

// printViewerLink prints a new token and its link on stdout, and when it
// expires, and why a phone cannot use it yet if so, on stderr.
func printViewerLink(cfg Config, keys *tokenKeys, streams []string, ttl, name string, stdout, stderr io.Writer) error {
	d, err := parseTTL(ttl, maxTokenTTL)
	if err != nil {
		return err
	}
	configured := make([]string, 0, len(cfg.Streams))
	for _, c := range cfg.Streams {
		configured = append(configured, c.Name)
	}
	for i := range streams {
		streams[i] = strings.TrimSpace(streams[i])
	}
	if err := checkLinkRequest(streams, name, configured); err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	base, warning := lanBase(cfg.Addr, scheme)
	link, err := makeViewerLink(keys, base, streams, configured, d, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, link.Token)
	fmt.Fprintln(stdout, link.URL)
	fmt.Fprintf(stderr, "valid until %s\n", link.ExpiresAt)
	if warning != "" {
		fmt.Fprintln(stderr, "note: "+warning)
	}
	return nil
}
