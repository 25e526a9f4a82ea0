package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The config file: YAML, the format of this field's tools, read with
// go.yaml.in/yaml/v3. It holds streams: (name → source URL, credentials
// included, which pages then never hold) and may set any flag by its name;
// flags and environment variables win over it. Every error says where:
// file:line and why.
//
//	addr: 0.0.0.0
//	allowed-origins: [https://intranet.example.com]
//	streams:
//	  front-door: rtsp://admin:secret@192.168.1.20/stream1
//	  garage:
//	    url: rtsp://admin:secret@192.168.1.21/stream1
//	    transport: udp

// configFileName is the default config file's name, in decoder's directory
// of the user's config directory.
const configFileName = "decoder.yaml"

// maxConfigBytes bounds what decoder reads as its config file.
const maxConfigBytes = 1 << 20

// decoderConfigDir is decoder's directory in the user's config directory,
// where its config file and token key are kept; "" where the user has
// none.
func decoderConfigDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "decoder")
}

// defaultConfigPath is the config file read when none is named, if it
// exists.
func defaultConfigPath() string {
	if dir := decoderConfigDir(); dir != "" {
		return filepath.Join(dir, configFileName)
	}
	return ""
}

// configFile is what a config file says.
type configFile struct {
	path     string
	settings []fileSetting
	streams  []namedConfig
}

// fileSetting is a flag set by the file: its value as the flag would take
// it on the command line (a list joined with commas).
type fileSetting struct {
	name, value string
	line        int
}

// fileError is an error at a line of the file.
func fileError(path string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
}

// readConfigFile reads and parses the file at path.
func readConfigFile(path string) (configFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return configFile{}, fmt.Errorf("cannot read the config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return configFile{}, fmt.Errorf("cannot read the config file: %w", err)
	}
	if len(data) > maxConfigBytes {
		return configFile{}, fmt.Errorf("%s: larger than 1 MiB: that is not decoder's config file", path)
	}
	return parseConfigFile(path, data)
}

// yamlLine finds the line in a YAML error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseConfigFile parses a config file's content; path names it in errors.
func parseConfigFile(path string, data []byte) (configFile, error) {
	cf := configFile{path: path}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) > 0 && line[0] == '\t' {
			return cf, fileError(path, i+1, "a tab indents this line: YAML indents with spaces")
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return cf, fileError(path, n, "%s", m[2])
		}
		return cf, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return cf, nil // empty: no settings, no streams
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return cf, fileError(path, root.Line, "want settings by flag name and streams:, as in \"addr: 0.0.0.0\"")
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if first, ok := seen[k.Value]; ok {
			return cf, fileError(path, k.Line, "%s is set twice (first at line %d)", k.Value, first)
		}
		seen[k.Value] = k.Line
		var err error
		switch k.Value {
		case "streams":
			cf.streams, err = parseStreams(path, v)
		case "config", "version":
			err = fileError(path, k.Line, "%s cannot be set in the config file", k.Value)
		default:
			var s fileSetting
			s, err = parseSetting(path, k, v)
			cf.settings = append(cf.settings, s)
		}
		if err != nil {
			return cf, err
		}
	}
	return cf, nil
}

// parseSetting reads a flag's value: a scalar, or a list of them for the
// flags that take lists.
func parseSetting(path string, k, v *yaml.Node) (fileSetting, error) {
	s := fileSetting{name: k.Value, line: k.Line}
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		s.value = v.Value
	case v.Kind == yaml.SequenceNode:
		items := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return s, fileError(path, item.Line, "%s: want a list of values", k.Value)
			}
			items = append(items, item.Value)
		}
		s.value = strings.Join(items, ",")
	default:
		return s, fileError(path, k.Line, "%s: want a value (or a list of them), as on the command line", k.Value)
	}
	return s, nil
}

// streamName is what a stream's name may be: it goes in URLs and logs.
var streamName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseStreams reads streams:, name → URL, or name → {url, transport}.
func parseStreams(path string, node *yaml.Node) ([]namedConfig, error) {
	if node.Tag == "!!null" {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fileError(path, node.Line, "streams: want a name and a source URL a line, as in \"front-door: rtsp://user:password@camera/stream\"")
	}
	var list []namedConfig
	seen := map[string]int{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		name := k.Value
		if !streamName.MatchString(name) {
			return nil, fileError(path, k.Line, "stream name %q: use letters, digits, '.', '_' and '-' (at most 64), beginning with a letter or a digit", name)
		}
		if first, ok := seen[name]; ok {
			return nil, fileError(path, k.Line, "stream %q is named twice (first at line %d)", name, first)
		}
		seen[name] = k.Line
		c, err := parseStream(path, name, k.Line, v)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, nil
}

// parseStream reads one stream's URL, and its transport if it has one.
func parseStream(path, name string, line int, v *yaml.Node) (namedConfig, error) {
	c := namedConfig{Name: name, Line: line}
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		c.URL = v.Value
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			key, val := v.Content[i], v.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return c, fileError(path, val.Line, "stream %q: %s wants a value", name, key.Value)
			}
			switch key.Value {
			case "url":
				c.URL = val.Value
			case "transport":
				c.Transport = val.Value
			default:
				return c, fileError(path, key.Line, "stream %q: unknown key %q (known: url, transport)", name, key.Value)
			}
		}
	}
	if c.URL == "" {
		return c, fileError(path, line, "stream %q has no source URL", name)
	}
	return c, nil
}

// apply sets the file's settings on fs, before the environment and the
// command line, which win over it.
func (cf configFile) apply(fs *flag.FlagSet) error {
	for _, s := range cf.settings {
		if fs.Lookup(s.name) == nil {
			return fileError(cf.path, s.line, "unknown setting %q: not a flag of decoder (decoder -h lists them)", s.name)
		}
		if err := fs.Set(s.name, s.value); err != nil {
			return fileError(cf.path, s.line, "%s: invalid value %q: %v", s.name, s.value, err)
		}
	}
	return nil
}

// checkStreams checks every stream's source as decoder would play it,
// with the sources' configuration.
func (cf configFile) checkStreams(cfg SourceConfig) error {
	for _, c := range cf.streams {
		if err := checkNamed(c, cfg); err != nil {
			return fileError(cf.path, c.Line, "stream %q: %v", c.Name, err)
		}
	}
	return nil
}

// findConfigFile reads the config file that -config or DECODER_CONFIG
// names, or the default one if it exists; without any, it returns an
// empty configFile. args are scanned with a flag set of their own, so that
// the file is read before the flags that win over it are applied.
func findConfigFile(args []string, getenv func(string) string) (configFile, error) {
	var scratch Config
	fs := flag.NewFlagSet("decoder", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defineFlags(fs, &scratch)
	if err := fs.Parse(args); err != nil || scratch.ShowVersion {
		// decoder -h and -version read no file; an error in the flags is
		// told by the real parse.
		return configFile{}, nil
	}
	path := getenv(envName("config"))
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "config" {
			path = f.Value.String()
		}
	})
	if path == "" {
		path = defaultConfigPath()
		if _, err := os.Stat(path); path == "" || err != nil {
			return configFile{}, nil
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return readConfigFile(path)
}
