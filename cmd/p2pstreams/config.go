package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A setting is one option of `serve`. It has three names: the flag --NAME,
// the environment variable P2PSTREAMS_NAME (upper case, '-' as '_'), and
// the key NAME in a config file. The first of flag, environment, file and
// default that gives a value wins.
type setting struct {
	name   string
	usage  string
	value  flag.Value
	redact func(string) string // how print-config shows the value; nil: as it is
	source string              // "default", "file PATH", "env NAME" or "flag"
}

// envName is the environment variable of the setting named name.
func envName(name string) string {
	return "P2PSTREAMS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// loadConfig parses serve's arguments, the environment (getenv) and the
// config file named by --config or P2PSTREAMS_CONFIG into c. A malformed
// value is an error that names its setting, its source and the reason.
// It returns the settings with their sources, for --print-config.
func loadConfig(c *serveConfig, args []string, getenv func(string) (string, bool), stderr io.Writer) ([]*setting, error) {
	set := c.settings()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.PrintConfig, "print-config", false, "print the effective configuration with the source of each value, secrets redacted, and exit")
	byName := make(map[string]*setting, len(set))
	for _, s := range set {
		fs.Var(s.value, s.name, s.usage+" (env "+envName(s.name)+")")
		s.source = "default"
		byName[s.name] = s
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if s := byName[f.Name]; s != nil {
			s.source = "flag"
		}
	})
	for _, s := range set {
		if s.source != "default" {
			continue
		}
		if v, ok := getenv(envName(s.name)); ok {
			if err := s.value.Set(v); err != nil {
				return nil, fmt.Errorf("serve: %s (for --%s): %v", envName(s.name), s.name, err)
			}
			s.source = "env " + envName(s.name)
		}
	}
	if c.ConfigFile != "" {
		if err := readConfigFile(c.ConfigFile, byName); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// readConfigFile sets, from the file at path, the settings that neither a
// flag nor the environment gave. Each line is `name value` or
// `name = value`; blank lines and text after a '#' that starts a line or
// follows a space are comments.
func readConfigFile(path string, byName map[string]*setting) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("serve: --config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, _ := strings.Cut(line, " ")
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(strings.TrimSpace(k), " \t") {
			name, val = k, v
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		s := byName[name]
		switch {
		case s == nil || name == "config":
			return fmt.Errorf("serve: %s:%d: unknown setting %q", path, n, name)
		case s.source != "default":
			continue // a flag or the environment wins
		}
		if err := s.value.Set(val); err != nil {
			return fmt.Errorf("serve: %s:%d: %s (for --%s): %v", path, n, name, name, err)
		}
		s.source = "file " + path
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("serve: --config: %w", err)
	}
	return nil
}

// printConfig writes the settings in the config file's format, each with
// its source; the output (secrets aside) is a valid config file.
func printConfig(w io.Writer, set []*setting) {
	fmt.Fprintln(w, "# p2pstreams serve: the effective configuration; after each '#', where the value came from")
	sorted := append([]*setting(nil), set...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, s := range sorted {
		v := s.value.String()
		if s.redact != nil {
			v = s.redact(v)
		}
		fmt.Fprintf(w, "%-28s # %s\n", s.name+" = "+v, s.source)
	}
}

// redactSecret hides a secret's value but not whether one is set.
func redactSecret(v string) string {
	if v == "" {
		return ""
	}
	return "REDACTED"
}

// redactURL hides the password of a URL.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return redactSecret(v)
	}
	return u.Redacted()
}

// The flag.Value kinds of the settings. Each refuses what the server could
// not use, with the reason.

type stringValue struct{ p *string }

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v stringValue) Set(s string) error { *v.p = s; return nil }

type intValue struct {
	p   *int
	min int
}

func (v intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}
func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < v.min {
		return fmt.Errorf("%d is less than %d", n, v.min)
	}
	*v.p = n
	return nil
}

type floatValue struct{ p *float64 }

func (v floatValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}
func (v floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != f {
		return fmt.Errorf("%q is not a number", s)
	}
	*v.p = f
	return nil
}

type durationValue struct {
	p   *time.Duration
	min time.Duration
}

func (v durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}
func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 10s or 1m30s)", s)
	}
	if d < v.min {
		return fmt.Errorf("%v is less than %v", d, v.min)
	}
	*v.p = d
	return nil
}

type boolValue struct{ p *bool }

func (v boolValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(*v.p)
}
func (v boolValue) IsBoolFlag() bool { return true }
func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}

// listValue is a comma-separated list; setting it replaces the list.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}
func (v listValue) Set(s string) error {
	var l []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			l = append(l, e)
		}
	}
	*v.p = l
	return nil
}

// choiceValue is one of a fixed set of words.
type choiceValue struct {
	p       *string
	choices []string
}

func (v choiceValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v choiceValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, c := range v.choices {
		if s == c {
			*v.p = s
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(v.choices, ", "))
}

// originsValue is a list of page origins ("https://example.com") or "*".
type originsValue struct{ listValue }

func (v originsValue) Set(s string) error {
	if err := v.listValue.Set(s); err != nil {
		return err
	}
	for _, o := range *v.p {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("%q is not an origin like https://example.com (or *)", o)
		}
	}
	return nil
}

// prefixesValue is a comma-separated list of IP addresses or CIDR prefixes.
type prefixesValue struct{ p *[]netip.Prefix }

func (v prefixesValue) String() string {
	if v.p == nil {
		return ""
	}
	var l []string
	for _, p := range *v.p {
		l = append(l, p.String())
	}
	return strings.Join(l, ",")
}

func (v prefixesValue) Set(s string) error {
	var l []netip.Prefix
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			ip, err2 := netip.ParseAddr(e)
			if err2 != nil {
				return fmt.Errorf("%q is not an IP address or CIDR prefix", e)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		l = append(l, p.Masked())
	}
	*v.p = l
	return nil
}
