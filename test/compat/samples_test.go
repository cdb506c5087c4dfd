package compat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
)

// sample is one recorded exchange from testdata/etcd-v2-wire-samples.txt.
type sample struct {
	title   string
	method  string // "" when the section has no curl line
	target  string // path and query, as sent
	form    string // urlencoded body from -d arguments
	status  int
	headers http.Header
	body    []byte
}

// parseSamples reads the sections separated by "=====" lines. Sections
// without an HTTP status line (the etcdctl transcript, the notes) are left
// out. The file cannot show a body's trailing newline, so the "Trailing
// newline facts" at its end are applied here: bodies of /v2/keys and
// /v2/members end with "\n"; /health, /version and /v2/stats/* do not.
func parseSamples(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sections [][]string
	var cur []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=====") {
			sections = append(sections, cur)
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	sections = append(sections, cur)
	var out []sample
	for _, sec := range sections {
		s, ok, err := parseSection(sec)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

var statusRE = regexp.MustCompile(`^HTTP/1\.1 (\d{3}) `)

func parseSection(lines []string) (sample, bool, error) {
	var s sample
	i := 0
	for ; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "### "):
			s.title = strings.TrimPrefix(l, "### ")
		case strings.HasPrefix(l, "$ curl "):
			if err := s.parseCurl(strings.TrimPrefix(l, "$ curl ")); err != nil {
				return s, false, fmt.Errorf("%s: %w", s.title, err)
			}
		}
		if m := statusRE.FindStringSubmatch(l); m != nil {
			fmt.Sscanf(m[1], "%d", &s.status)
			break
		}
	}
	if s.status == 0 {
		return s, false, nil
	}
	s.headers = http.Header{}
	for i++; i < len(lines) && lines[i] != ""; i++ {
		k, v, ok := strings.Cut(lines[i], ": ")
		if !ok {
			return s, false, fmt.Errorf("%s: bad header line %q", s.title, lines[i])
		}
		s.headers.Add(k, v)
	}
	body := lines[min(i+1, len(lines)):]
	for len(body) > 0 && body[len(body)-1] == "" {
		body = body[:len(body)-1]
	}
	s.body = []byte(strings.Join(body, "\n"))
	if len(s.body) > 0 && bodyEndsWithNewline(s) {
		s.body = append(s.body, '\n')
	}
	return s, true, nil
}

func bodyEndsWithNewline(s sample) bool {
	p := s.target
	if p == "" { // sections without a curl line are keys watches or members
		return true
	}
	switch {
	case strings.HasPrefix(p, "/v2/keys"):
		return true
	case strings.HasPrefix(p, "/v2/members"):
		// Checked on etcd 3.4.23: a members error ({"message":...}, e.g.
		// the 415) has no newline, unlike a members listing.
		return s.status/100 == 2
	case s.status == http.StatusMethodNotAllowed: // http.Error's text body
		return true
	}
	return false
}

// parseCurl understands the curl command lines the samples use: -X METHOD,
// -XMETHOD, -I (HEAD), -si, -o/-w (ignored), -d k=v and one URL.
func (s *sample) parseCurl(cmd string) error {
	toks := strings.Fields(cmd)
	var form []string
	for i := 0; i < len(toks); i++ {
		tk := strings.Trim(toks[i], `'"`)
		switch {
		case tk == "-I":
			s.method = http.MethodHead
		case strings.HasPrefix(tk, "-X"):
			s.method = strings.TrimPrefix(tk, "-X")
		case tk == "-d":
			i++
			form = append(form, toks[i])
		case tk == "-o" || tk == "-w":
			i++
		case strings.HasPrefix(tk, "-"):
		case strings.HasPrefix(tk, "http://"):
			u, err := url.Parse(tk)
			if err != nil {
				return err
			}
			s.target = u.RequestURI()
		}
	}
	if s.method == "" {
		s.method = http.MethodGet
		if len(form) > 0 {
			s.method = http.MethodPost
		}
	}
	s.form = strings.Join(form, "&")
	if s.target == "" {
		return fmt.Errorf("no URL in %q", cmd)
	}
	return nil
}

// jv is a JSON value that keeps object key order, so bodies can be
// compared for shape and re-rendered byte for byte.
type jv struct {
	kind   byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys   []string
	vals   []*jv
	raw    string // scalar text as it appeared
	strVal string
}

func parseJSON(b []byte) (*jv, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (*jv, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		v := &jv{kind: 'o'}
		if x == '[' {
			v.kind = 'a'
		}
		for d.More() {
			if v.kind == 'o' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k.(string))
			}
			e, err := parseValue(d)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
		}
		_, err := d.Token()
		return v, err
	case string:
		return &jv{kind: 's', strVal: x}, nil
	case json.Number:
		return &jv{kind: 'n', raw: x.String()}, nil
	case bool:
		return &jv{kind: 'b', raw: fmt.Sprint(x)}, nil
	default:
		return &jv{kind: 'z', raw: "null"}, nil
	}
}

// render writes v compactly the way Go's encoding/json (and so etcd) does.
func (v *jv) render(w *bytes.Buffer) {
	switch v.kind {
	case 'o', 'a':
		open, close := byte('{'), byte('}')
		if v.kind == 'a' {
			open, close = '[', ']'
		}
		w.WriteByte(open)
		for i, e := range v.vals {
			if i > 0 {
				w.WriteByte(',')
			}
			if v.kind == 'o' {
				k, _ := json.Marshal(v.keys[i])
				w.Write(k)
				w.WriteByte(':')
			}
			e.render(w)
		}
		w.WriteByte(close)
	case 's':
		b, _ := json.Marshal(v.strVal)
		w.Write(b)
	default:
		w.WriteString(v.raw)
	}
}

func (v *jv) String() string {
	var b bytes.Buffer
	v.render(&b)
	return b.String()
}

// sortNodes orders every "nodes" array by key: etcd lists a directory's
// children in map order unless sorted=true.
func (v *jv) sortNodes() {
	for i, e := range v.vals {
		if v.kind == 'o' && v.keys[i] == "nodes" && e.kind == 'a' {
			sort.SliceStable(e.vals, func(a, b int) bool { return e.vals[a].field("key") < e.vals[b].field("key") })
		}
		e.sortNodes()
	}
}

func (v *jv) field(name string) string {
	for i, k := range v.keys {
		if k == name {
			return v.vals[i].strVal
		}
	}
	return ""
}

var idKeyRE = regexp.MustCompile(`^[0-9a-f]{6,16}$`)

// shape keeps field names, order and value types but not values. Member-id
// keys become <id>, and repeated identical elements collapse to one, so a
// three-member answer and a one-member answer of the same form agree.
func (v *jv) shape() string {
	switch v.kind {
	case 'o', 'a':
		var parts []string
		for i, e := range v.vals {
			p := e.shape()
			if v.kind == 'o' {
				k := v.keys[i]
				if idKeyRE.MatchString(k) {
					k = "<id>"
				}
				p = fmt.Sprintf("%q:%s", k, p)
			}
			if len(parts) == 0 || parts[len(parts)-1] != p {
				parts = append(parts, p)
			}
		}
		if v.kind == 'o' {
			return "{" + strings.Join(parts, ",") + "}"
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 's':
		return `"s"`
	case 'n':
		return "0"
	case 'b':
		return "bool"
	}
	return "null"
}
