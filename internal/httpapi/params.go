package httpapi

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/store"
)

// Limits bound what one request may carry. etcd's v2 API has none, which lets a single client
// exhaust a server's memory.
type Limits struct {
	MaxKeyBytes     int   // length of a key path
	MaxValueBytes   int   // size of a value
	MaxRequestBytes int64 // size of a request body
}

// DefaultLimits match etcd v3's request limit of 1.5 MiB.
var DefaultLimits = Limits{MaxKeyBytes: 4096, MaxValueBytes: 1 << 20, MaxRequestBytes: 3 << 19}

// keysRequest is one parsed /v2/keys request.
type keysRequest struct {
	method            string
	key               string
	value             string
	valueGiven        bool
	dir               bool
	recursive, sorted bool
	wait, stream      bool
	quorum            bool
	serializable      bool
	refresh           bool
	noValueOnSuccess  bool
	prevValue         string
	prevIndex         uint64
	prevExist         *bool
	ttl               int64
	waitIndex         uint64
}

// knownParams are the parameters etcd v2 clients send. Anything else is refused rather than
// silently ignored, so a typo never turns a guarded write into an unguarded one.
var knownParams = map[string]bool{
	"value": true, "ttl": true, "dir": true, "prevValue": true, "prevIndex": true,
	"prevExist": true, "recursive": true, "sorted": true, "quorum": true, "wait": true,
	"waitIndex": true, "stream": true, "refresh": true, "noValueOnSuccess": true,
	"consistency": true,
}

// maxTTL keeps now+ttl inside time.Time's nanosecond range.
const maxTTL = math.MaxInt64 / int64(1e9) / 2

// readForm returns the merged form (body values first, as net/http's ParseForm does) and the raw
// body, which forwarding replays to the leader.
func readForm(r *http.Request, limit int64) (url.Values, []byte, error) {
	var body []byte
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, nil, badRequest(api.CodeInvalidForm, "reading body: "+err.Error())
		}
		if int64(len(body)) > limit {
			return nil, nil, &requestError{code: api.CodeInvalidForm,
				cause:  fmt.Sprintf("request body exceeds the limit of %d bytes", limit),
				status: http.StatusRequestEntityTooLarge}
		}
	}
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, badRequest(api.CodeInvalidForm, err.Error())
	}
	if len(body) > 0 && isFormBody(r.Header.Get("Content-Type")) {
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, badRequest(api.CodeInvalidForm, err.Error())
		}
		for k, vs := range form {
			bf[k] = append(bf[k], vs...)
		}
		form = bf
	}
	return form, body, nil
}

func isFormBody(ct string) bool {
	if ct == "" {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// keyFromPath turns the URL path below /v2/keys into a store key and validates it. r.URL.Path is
// already percent-decoded, so an encoded NUL or invalid UTF-8 is seen here.
func keyFromPath(p string, lim Limits) (string, error) {
	k := strings.TrimPrefix(p, keysPrefix)
	if k == "" || k[0] != '/' {
		k = "/" + k
	}
	if len(k) > lim.MaxKeyBytes {
		return "", badRequest(api.CodeInvalidField, fmt.Sprintf("key is %d bytes, over the limit of %d", len(k), lim.MaxKeyBytes))
	}
	if err := store.ValidateKey(k); err != nil {
		return "", badRequest(api.CodeInvalidField, fmt.Sprintf("invalid key %q: %v", k, err))
	}
	return k, nil
}

func parseKeysRequest(r *http.Request, form url.Values, lim Limits) (*keysRequest, error) {
	for k := range form {
		if !knownParams[k] {
			return nil, badRequest(api.CodeInvalidField, fmt.Sprintf("unknown parameter %q", k))
		}
	}
	key, err := keyFromPath(r.URL.Path, lim)
	if err != nil {
		return nil, err
	}
	kr := &keysRequest{method: r.Method, key: key}
	bools := []struct {
		name string
		dst  *bool
	}{
		{"dir", &kr.dir}, {"recursive", &kr.recursive}, {"sorted", &kr.sorted},
		{"wait", &kr.wait}, {"stream", &kr.stream}, {"quorum", &kr.quorum},
		{"noValueOnSuccess", &kr.noValueOnSuccess},
	}
	for _, b := range bools {
		if *b.dst, err = getBool(form, b.name); err != nil {
			return nil, err
		}
	}
	if kr.prevIndex, err = getUint(form, "prevIndex", api.CodeIndexNaN); err != nil {
		return nil, err
	}
	if kr.waitIndex, err = getUint(form, "waitIndex", api.CodeIndexNaN); err != nil {
		return nil, err
	}
	if vs, ok := form["prevExist"]; ok {
		b, err := strconv.ParseBool(first(vs))
		if err != nil {
			return nil, badRequest(api.CodeInvalidField, "invalid value for prevExist")
		}
		kr.prevExist = &b
	}
	if vs, ok := form["prevValue"]; ok {
		kr.prevValue = first(vs)
		if kr.prevValue == "" {
			return nil, badRequest(api.CodePrevValueRequired, `"prevValue" cannot be empty`)
		}
	}
	if vs, ok := form["value"]; ok {
		kr.value, kr.valueGiven = first(vs), true
		if len(kr.value) > lim.MaxValueBytes {
			return nil, &requestError{code: api.CodeInvalidField,
				cause:  fmt.Sprintf("value is %d bytes, over the limit of %d", len(kr.value), lim.MaxValueBytes),
				status: http.StatusRequestEntityTooLarge}
		}
	}
	ttlGiven := false
	if s := form.Get("ttl"); s != "" {
		t, err := strconv.ParseUint(s, 10, 64)
		if err != nil || t > uint64(maxTTL) {
			return nil, badRequest(api.CodeTTLNaN, `invalid value for "ttl"`)
		}
		kr.ttl, ttlGiven = int64(t), true
	}
	if vs, ok := form["refresh"]; ok {
		b, err := strconv.ParseBool(first(vs))
		if err != nil {
			return nil, badRequest(api.CodeInvalidField, "invalid value for refresh")
		}
		kr.refresh = b
		if b {
			if kr.valueGiven && kr.value != "" {
				return nil, badRequest(api.CodeRefreshValue, "A value was provided on a refresh")
			}
			if !ttlGiven {
				return nil, badRequest(api.CodeRefreshTTLRequired, "No TTL value set")
			}
		}
	}
	switch c := form.Get("consistency"); c {
	case "", "linearizable":
	case "serializable":
		kr.serializable = true
	default:
		return nil, badRequest(api.CodeInvalidField, fmt.Sprintf("invalid value for \"consistency\": %q (want linearizable or serializable)", c))
	}
	return kr, kr.checkConflicts()
}

// checkConflicts refuses combinations etcd would accept and then act on surprisingly.
func (kr *keysRequest) checkConflicts() error {
	switch {
	case kr.wait && kr.method != http.MethodGet && kr.method != http.MethodHead:
		return badRequest(api.CodeInvalidField, `"wait" can only be used with GET requests`)
	case kr.stream && !kr.wait:
		return badRequest(api.CodeInvalidField, `"stream" can only be used with "wait"`)
	case kr.waitIndex != 0 && !kr.wait:
		return badRequest(api.CodeInvalidField, `"waitIndex" can only be used with "wait"`)
	case kr.quorum && kr.serializable:
		return badRequest(api.CodeInvalidField, `"quorum=true" and "consistency=serializable" contradict each other`)
	case kr.dir && kr.valueGiven && kr.value != "" && kr.method != http.MethodGet:
		return badRequest(api.CodeInvalidField, "a directory cannot have a value")
	case kr.refresh && kr.dir:
		return badRequest(api.CodeInvalidField, `"refresh" applies to keys, not directories`)
	case kr.prevExist != nil && !*kr.prevExist && (kr.prevIndex != 0 || kr.prevValue != ""):
		return badRequest(api.CodeInvalidField, `"prevExist=false" cannot be combined with "prevValue" or "prevIndex"`)
	}
	if kr.method == http.MethodPost && (kr.prevExist != nil || kr.prevIndex != 0 || kr.prevValue != "") {
		return badRequest(api.CodeInvalidField, "POST creates a new in-order key; prevExist, prevValue and prevIndex do not apply")
	}
	return nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func getBool(form url.Values, name string) (bool, error) {
	vs, ok := form[name]
	if !ok || first(vs) == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(first(vs))
	if err != nil {
		return false, badRequest(api.CodeInvalidField, fmt.Sprintf("invalid value for %q", name))
	}
	return b, nil
}

func getUint(form url.Values, name string, code int) (uint64, error) {
	s := form.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest(code, fmt.Sprintf("invalid value for %q", name))
	}
	return n, nil
}

var errForwardLoop = errors.New("forwarded request reached a node that is not the leader")
