package main

// Config files: every dfsd flag can come from a TOML or YAML file named by
// --config.
//
// The flag set is the one list of settings. A key is a flag's name, exactly
// (a key spelt with '_' or in capitals is refused with the flag's name as a
// suggestion, so that one setting has one spelling to grep for), and a
// value goes through the flag's own Set, so it means what it means on the
// command line. The file is applied first and the command line after it:
// command line > config file > environment for the S3 credentials >
// defaults (see parseFlags). Errors name the file, the line and the column.
//
// Each format is parsed into a list of entries first, keeping positions, so
// that the rules (unknown keys, keys given twice, which value kinds a flag
// takes) are written once for both.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
	"go.yaml.in/yaml/v3"
)

// fileFormat is a config file's format, chosen by its extension.
type fileFormat string

const (
	formatTOML fileFormat = "toml"
	formatYAML fileFormat = "yaml"
)

// hiddenValue stands for a secret in --print-config's output. A file that
// still holds it is refused, so a printed config never runs with a wrong
// secret.
const hiddenValue = "<hidden>"

// notInFile are flags that a config file cannot set, with the reason.
var notInFile = map[string]string{
	"config":       "a config file cannot name another: give --config on the command line",
	"print-config": "print-config is something to do, not a setting: give --print-config on the command line",
	"version":      "version is something to do, not a setting: give --version on the command line",
}

// position is a place in a config file; 0 means unknown.
type position struct{ line, col int }

// fileError is a config file refusal: "FILE:LINE:COL: sentence".
type fileError struct {
	path string
	pos  position
	msg  string
}

func (e *fileError) Error() string {
	switch {
	case e.pos.line == 0:
		return fmt.Sprintf("%s: %s", e.path, e.msg)
	case e.pos.col == 0:
		return fmt.Sprintf("%s:%d: %s", e.path, e.pos.line, e.msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.path, e.pos.line, e.pos.col, e.msg)
}

func errAt(pos position, format string, args ...any) error {
	return &fileError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// valueType is what a config file value is, whatever its format.
type valueType int

const (
	typeString valueType = iota
	typeInt
	typeBool
	typeList
	typeOther // a float, a date, a table, a null: no flag takes one
)

// entry is one key and its value as a config file gives them.
type entry struct {
	key string
	pos position // of the key
	val value
}

type value struct {
	pos  position
	typ  valueType
	text string // typeString: the string; typeInt: in decimal; typeBool: true or false; typeOther: what it is
	// plain is set for a YAML plain scalar (unquoted: 007, yes, 1.5) other
	// than null: a string flag takes its text as written.
	plain string
	null  bool    // YAML's null: "key:" with nothing after it
	items []value // typeList
}

// str is v as a string flag takes it.
func (v value) str() (string, bool) {
	switch {
	case v.typ == typeString:
		return v.text, true
	case v.plain != "":
		return v.plain, true
	}
	return "", false
}

// String describes v in an error message.
func (v value) String() string {
	switch v.typ {
	case typeString:
		return strconv.Quote(v.text)
	case typeList:
		return "a list"
	}
	return v.text
}

// flagKind is what a flag's values are, found from its flag.Value.
type flagKind int

const (
	kindOther flagKind = iota // a flag.Value this file does not know: its Set takes the string
	kindString
	kindBool
	kindInt
	kindDuration
	kindSize
	kindList
)

func kindOf(f *flag.Flag) flagKind {
	switch v := f.Value.(type) {
	case byteSize:
		return kindSize
	case *listFlag:
		return kindList
	case flag.Getter:
		switch v.Get().(type) {
		case string:
			return kindString
		case bool:
			return kindBool
		case int:
			return kindInt
		case time.Duration:
			return kindDuration
		}
	}
	return kindOther
}

// loadConfigFile applies the config file at path to the flags of fs and
// returns its format and the names of the flags it set.
func loadConfigFile(fs *flag.FlagSet, path string) (fileFormat, []string, error) {
	var format fileFormat
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		format = formatTOML
	case ".yaml", ".yml":
		format = formatYAML
	default:
		return "", nil, fmt.Errorf("--config %s: dfsd reads TOML or YAML and tells them by the extension: name the file .toml, .yaml or .yml", path)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("--config %s: the file does not exist", path)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", nil, fmt.Errorf("--config %s: cannot read the file: %v", path, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	var entries []entry
	if format == formatTOML {
		entries, err = parseTOML(data)
	} else {
		entries, err = parseYAML(data)
	}
	var names []string
	if err == nil {
		names, err = applyEntries(fs, entries)
	}
	var fe *fileError
	if errors.As(err, &fe) {
		fe.path = path
	}
	return format, names, err
}

// applyEntries sets the flags of fs from entries, in order, and returns
// the names of the flags set.
func applyEntries(fs *flag.FlagSet, entries []entry) ([]string, error) {
	seen := map[string]position{}
	var names []string
	for _, e := range entries {
		if first, ok := seen[e.key]; ok {
			return nil, errAt(e.pos, "key %q is given twice (first on line %d)", e.key, first.line)
		}
		seen[e.key] = e.pos
		f := fs.Lookup(e.key)
		if f == nil {
			return nil, errAt(e.pos, "unknown key %q %s", e.key, suggest(fs, e.key))
		}
		if why := notInFile[e.key]; why != "" {
			return nil, errAt(e.pos, "%s", why)
		}
		if pos, err := setFlag(f, e.val); err != nil {
			return nil, errAt(pos, "%s: %v", e.key, err)
		}
		names = append(names, e.key)
	}
	return names, nil
}

// setFlag sets f from a file value, through f.Value.Set. It returns the
// position of what it refused.
func setFlag(f *flag.Flag, v value) (position, error) {
	kind := kindOf(f)
	if v.null {
		return v.pos, errors.New("no value: give one, or remove the key to keep the default")
	}
	if f.Name == "s3-secret-key" && v.typ != typeString && v.plain == "" {
		return v.pos, errors.New("want the secret key as a string in quotes (the value is not repeated here)")
	}
	if v.typ == typeList && kind != kindList {
		return v.pos, errors.New("takes one value, not a list")
	}
	switch kind {
	case kindBool:
		if v.typ != typeBool {
			return v.pos, fmt.Errorf("want true or false, not %v", v)
		}
		return v.pos, f.Value.Set(v.text)
	case kindInt:
		if v.typ != typeInt {
			return v.pos, fmt.Errorf("want a whole number, not %v", v)
		}
		if err := f.Value.Set(v.text); err != nil {
			return v.pos, fmt.Errorf("%s is out of range", v.text)
		}
		return v.pos, nil
	case kindDuration:
		if v.typ == typeInt {
			return v.pos, fmt.Errorf("%s has no unit: write a duration as a string, like \"10s\" or \"5m\"", v.text)
		}
		if v.typ != typeString {
			return v.pos, fmt.Errorf("want a duration, like \"10s\" or \"5m\", not %v", v)
		}
		if _, err := time.ParseDuration(v.text); err != nil {
			return v.pos, fmt.Errorf("%q is not a duration (use a number and a unit: 500ms, 10s, 5m, 1h)", v.text)
		}
		return v.pos, f.Value.Set(v.text)
	case kindSize:
		if v.typ != typeString && v.typ != typeInt {
			return v.pos, fmt.Errorf("want a size, like \"4MiB\" or a number of bytes, not %v", v)
		}
		return v.pos, f.Value.Set(v.text)
	case kindList:
		items := v.items
		if v.typ != typeList {
			items = []value{v}
		}
		l := f.Value.(*listFlag)
		*l = nil
		for _, item := range items {
			s, ok := item.str()
			if !ok {
				return item.pos, fmt.Errorf("want a string or a list of strings, not %v", item)
			}
			if err := checkNotHidden(f.Name, s); err != nil {
				return item.pos, err
			}
			if err := l.Set(s); err != nil {
				return item.pos, err
			}
		}
		return v.pos, nil
	}
	s, ok := v.str()
	if !ok {
		return v.pos, fmt.Errorf("want a string, not %v", v)
	}
	if err := checkNotHidden(f.Name, s); err != nil {
		return v.pos, err
	}
	return v.pos, f.Value.Set(s)
}

func checkNotHidden(name, s string) error {
	if !strings.Contains(s, hiddenValue) {
		return nil
	}
	err := fmt.Sprintf("%q stands for a secret that dfsd --print-config did not print: put the real value here", hiddenValue)
	switch name {
	case "s3-secret-key":
		err += ", or remove the line and set $DFS_S3_SECRET_KEY"
	case "status-token":
		err += ", or remove the line and set $DFS_STATUS_TOKEN"
	}
	return errors.New(err)
}

// suggest is the end of an "unknown key" sentence: the flag name the key
// most likely meant, or where the keys are listed.
func suggest(fs *flag.FlagSet, key string) string {
	norm := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(strings.TrimLeft(key, "-")))
	maxDist := 1
	if len(norm) >= 5 {
		maxDist = 2
	}
	// The nearest name within maxDist edits, else the longest name that
	// the key starts with or that starts with the key, at a '-' (data-dir:
	// data; s3-secret: s3-secret-key).
	best, bestDist, prefix := "", maxDist+1, ""
	fs.VisitAll(func(f *flag.Flag) {
		if notInFile[f.Name] != "" {
			return
		}
		if d := editDistance(norm, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
		if (strings.HasPrefix(norm, f.Name+"-") || strings.HasPrefix(f.Name, norm+"-")) && len(f.Name) > len(prefix) {
			prefix = f.Name
		}
	})
	if best == "" {
		best = prefix
	}
	if best == "" {
		return "(the keys are dfsd's flag names, listed by dfsd --help)"
	}
	return fmt.Sprintf("(did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parseTOML reads a TOML document into entries. dfsd's keys are flat, so a
// [table] is refused; a dotted key is an unknown key.
func parseTOML(data []byte) ([]entry, error) {
	data = data[:len(data):len(data)] // a highlight past the end must not index beyond the file
	var p unstable.Parser
	p.Reset(data)
	pos := func(r unstable.Range) position {
		s := p.Shape(r).Start
		return position{s.Line, s.Column}
	}
	var entries []entry
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			it.Next()
			return nil, errAt(pos(it.Node().Raw), "dfsd's config has no tables: put every key at the top level, not under [%s]", tomlKey(e.Key()))
		case unstable.KeyValue:
			at := pos(e.Raw)
			entries = append(entries, entry{key: tomlKey(e.Key()), pos: at, val: tomlValue(&p, e.Value(), at, true)})
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			return nil, errAt(tomlErrorPos(&p, perr.Highlight), "not valid TOML: %s", perr.Message)
		}
		return nil, errAt(position{}, "not valid TOML: %v", err)
	}
	return entries, nil
}

// tomlErrorPos is where a parse error's highlight is, if it is in the
// file: Parser.Range panics on a slice that is not.
func tomlErrorPos(p *unstable.Parser, highlight []byte) (pos position) {
	defer func() {
		if recover() != nil {
			pos = position{}
		}
	}()
	if highlight == nil {
		return position{}
	}
	s := p.Shape(p.Range(highlight)).Start
	return position{s.Line, s.Column}
}

func tomlKey(it unstable.Iterator) string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, ".")
}

// tomlValue converts n; at is where it is if n has no range of its own
// (arrays do not). A list is converted only at the top: its items' lists
// are typeOther.
func tomlValue(p *unstable.Parser, n *unstable.Node, at position, top bool) value {
	v := value{pos: at}
	if n.Raw.Length > 0 {
		s := p.Shape(n.Raw).Start
		v.pos = position{s.Line, s.Column}
	}
	raw := string(n.Data)
	switch n.Kind {
	case unstable.String:
		v.typ, v.text = typeString, raw
	case unstable.Bool:
		v.typ, v.text = typeBool, raw
	case unstable.Integer:
		i, err := strconv.ParseInt(strings.ReplaceAll(raw, "_", ""), 0, 64)
		if err != nil {
			v.typ, v.text = typeOther, raw+" (a number too large)"
			break
		}
		v.typ, v.text = typeInt, strconv.FormatInt(i, 10)
	case unstable.Float:
		v.typ, v.text = typeOther, raw+" (a number with a fraction)"
	case unstable.Array:
		if !top {
			v.typ, v.text = typeOther, "a list inside a list"
			break
		}
		v.typ = typeList
		it := n.Children()
		for it.Next() {
			if c := it.Node(); c.Kind != unstable.Comment {
				v.items = append(v.items, tomlValue(p, c, v.pos, false))
			}
		}
		if len(v.items) > 0 {
			v.pos = v.items[0].pos
		}
	case unstable.InlineTable:
		v.typ, v.text = typeOther, "a table"
	default:
		v.typ, v.text = typeOther, raw+" (a date or time)"
	}
	return v
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads a YAML document, a mapping of keys to values, into
// entries. Aliases are followed; a second document is refused.
func parseYAML(data []byte) ([]entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, errAt(position{next.Line, next.Column}, "a second YAML document: a config file holds one mapping of flag names to values")
	case !errors.Is(err, io.EOF):
		return nil, yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, errAt(position{root.Line, root.Column}, "want a mapping of flag names to values, like \"data: /var/lib/dfs\"")
	}
	var entries []entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		at := position{k.Line, k.Column}
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(at, "a key must be a flag name")
		}
		entries = append(entries, entry{key: k.Value, pos: at, val: yamlValue(v, true)})
	}
	return entries, nil
}

// yamlError is a YAML syntax error with its line. yaml.v3 numbers lines
// from 1 in its scanner's errors but from 0 in its parser's (and leaves the
// line out when it is 0): those are told apart by their sentences, which
// are libyaml's.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	for _, p := range []string{"did not find expected ", "found undefined tag handle", "found duplicate %YAML directive",
		"found incompatible YAML document", "found duplicate %TAG directive"} {
		if strings.HasPrefix(msg, p) {
			line++
			break
		}
	}
	return errAt(position{line: line}, "not valid YAML: %s", msg)
}

// yamlValue converts n. A list is converted only at the top: its items'
// lists are typeOther.
func yamlValue(n *yaml.Node, top bool) value {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	v := value{pos: position{n.Line, n.Column}}
	switch n.Kind {
	case yaml.ScalarNode:
		tag := n.ShortTag()
		if tag != "!!null" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			v.plain = n.Value
		}
		switch tag {
		case "!!str":
			v.typ, v.text = typeString, n.Value
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				v.typ, v.text = typeOther, n.Value+" (a number too large)"
				break
			}
			v.typ, v.text = typeInt, strconv.FormatInt(i, 10)
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				v.typ, v.text = typeOther, n.Value
				break
			}
			v.typ, v.text = typeBool, strconv.FormatBool(b)
		case "!!null":
			v.typ, v.text, v.null = typeOther, "no value", true
		case "!!float":
			v.typ, v.text = typeOther, n.Value+" (a number with a fraction)"
		default:
			v.typ, v.text = typeOther, fmt.Sprintf("%s (a %s)", n.Value, strings.TrimPrefix(tag, "!!"))
		}
	case yaml.SequenceNode:
		if !top {
			v.typ, v.text = typeOther, "a list inside a list"
			break
		}
		v.typ = typeList
		for _, c := range n.Content {
			v.items = append(v.items, yamlValue(c, false))
		}
	case yaml.MappingNode:
		v.typ, v.text = typeOther, "a mapping"
	default:
		v.typ, v.text = typeOther, "not a value"
	}
	return v
}

// printConfig writes the flags of fs as a config file in format: the
// flags in set (by the file or the command line) as keys, the others
// commented out at their defaults, so that reading it back with --config
// gives the same configuration, down to which flags were given. Secrets
// are written as hiddenValue.
func printConfig(w io.Writer, fs *flag.FlagSet, format fileFormat, set map[string]bool) error {
	sep := " = "
	if format == formatYAML {
		sep = ": "
	}
	var body strings.Builder
	anyHidden := false
	fs.VisitAll(func(f *flag.Flag) {
		if notInFile[f.Name] != "" {
			return
		}
		text, hidden := renderFlag(f)
		anyHidden = anyHidden || hidden
		if !set[f.Name] {
			body.WriteString("# ")
		}
		body.WriteString(f.Name + sep + text + "\n")
	})
	head := "# dfsd configuration, as dfsd --print-config printed it. Keys given in the\n" +
		"# config file or on the command line are set; the others are commented out\n" +
		"# at their defaults. Read it with dfsd --config FILE.\n"
	if anyHidden {
		head += "# " + hiddenValue + " stands for a secret that is not printed: put the real value\n" +
			"# back (or remove it and set $DFS_S3_SECRET_KEY for s3-secret-key, $DFS_STATUS_TOKEN\n" +
			"# for status-token).\n"
	}
	_, err := io.WriteString(w, head+body.String())
	return err
}

// renderFlag is f's value in TOML, which is also YAML, with secrets hidden.
func renderFlag(f *flag.Flag) (string, bool) {
	switch kindOf(f) {
	case kindBool:
		return strconv.FormatBool(f.Value.(flag.Getter).Get().(bool)), false
	case kindInt:
		return strconv.Itoa(f.Value.(flag.Getter).Get().(int)), false
	case kindDuration:
		return quote(formatDuration(f.Value.(flag.Getter).Get().(time.Duration))), false
	case kindSize:
		s := formatBytes(f.Value.(flag.Getter).Get().(int64))
		if strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			return s, false
		}
		return quote(s), false
	case kindList:
		items := f.Value.(flag.Getter).Get().([]string)
		quoted := make([]string, len(items))
		anyHidden := false
		for i, item := range items {
			s, hidden := hideSecret(f.Name, item)
			quoted[i], anyHidden = quote(s), anyHidden || hidden
		}
		return "[" + strings.Join(quoted, ", ") + "]", anyHidden
	}
	s, hidden := hideSecret(f.Name, f.Value.String())
	return quote(s), hidden
}

// hideSecret replaces the secrets in the value s of flag name with
// hiddenValue: the S3 secret key and the status token; the password in a URL; in an alert
// webhook's URL also the values of query parameters named like a secret
// (token, key, sig, ...) and path segments that look like a token (16 or
// more characters, letters and digits), as in Slack's and Discord's
// webhook URLs. The cluster key file is a path, not a secret.
func hideSecret(name, s string) (string, bool) {
	switch name {
	case "s3-secret-key", "status-token":
		if s != "" {
			return hiddenValue, true
		}
	case "backend":
		return hideInURL(s, false)
	case "alert-webhook":
		return hideInURL(s, true)
	}
	return s, false
}

func hideInURL(raw string, webhook bool) (string, bool) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw, false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	hidden := false
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		if user, _, ok := strings.Cut(auth[:at], ":"); ok {
			auth, hidden = user+":"+hiddenValue+auth[at:], true
		}
	}
	if !webhook {
		return scheme + "://" + auth + tail, hidden
	}
	tail, frag, hasFrag := strings.Cut(tail, "#")
	path, query, hasQuery := strings.Cut(tail, "?")
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if looksLikeToken(seg) {
			segs[i], hidden = hiddenValue, true
		}
	}
	tail = strings.Join(segs, "/")
	if hasQuery {
		params := strings.Split(query, "&")
		for i, kv := range params {
			if k, _, ok := strings.Cut(kv, "="); ok && secretName(k) {
				params[i], hidden = k+"="+hiddenValue, true
			}
		}
		tail += "?" + strings.Join(params, "&")
	}
	if hasFrag {
		tail += "#" + frag
	}
	return scheme + "://" + auth + tail, hidden
}

func looksLikeToken(seg string) bool {
	return len(seg) >= 16 && strings.IndexFunc(seg, unicode.IsDigit) >= 0 && strings.IndexFunc(seg, unicode.IsLetter) >= 0
}

func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"token", "key", "secret", "sig", "pass", "auth", "code", "cred"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// quote is s as a string in double quotes, valid in TOML and YAML alike.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// formatDuration is d as time.ParseDuration reads it, without the zero
// units time.Duration.String leaves at the end: 10m, not 10m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
