package robustness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/test/robustness/model"
)

// Recorder collects operations with times on one monotonic clock.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []model.Op
}

// NewRecorder starts the clock.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *Recorder) add(op model.Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []model.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Op(nil), r.ops...)
}

// keysAnswer is the part of a v2 keys answer (success or error) the suite reads.
type keysAnswer struct {
	Action string `json:"action"`
	Node   *struct {
		Key           string  `json:"key"`
		Value         *string `json:"value"`
		ModifiedIndex uint64  `json:"modifiedIndex"`
	} `json:"node"`
	ErrorCode int    `json:"errorCode"`
	Index     uint64 `json:"index"`
}

// errNotSent marks a request that provably never reached the server (the dial failed).
var errNotSent = errors.New("not sent")

// do sends one keys request and decodes the answer. status is 0 when no answer came.
func do(ctx context.Context, hc *http.Client, method, u string, form url.Values) (int, keysAnswer, uint64, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, keysAnswer{}, 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, keysAnswer{}, 0, fmt.Errorf("%w: %v", errNotSent, err)
		}
		return 0, keysAnswer{}, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, keysAnswer{}, 0, err
	}
	var a keysAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return resp.StatusCode, a, 0, fmt.Errorf("%s: %q: %v", resp.Status, b, err)
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	if a.ErrorCode != 0 && a.Index != 0 {
		idx = a.Index
	}
	return resp.StatusCode, a, idx, nil
}

// Client issues a random mix of operations on the current key set through one member at a
// time, moving to the next member when its member cannot be reached.
type Client struct {
	ID      int
	Members func() []*Member
	Keys    func() []string
	Mix     []model.Kind // drawn uniformly
	Rate    time.Duration
	Pin     int // member index to start with
	Sticky  bool
	rec     *Recorder
	rnd     *rand.Rand
	seq     int
	hc      *http.Client
	seen    map[string]model.Output // last successful read or write per key
	lastVal map[string]string
}

// NewClient prepares a client; Run drives it.
func NewClient(id int, rec *Recorder, seed int64, timeout time.Duration) *Client {
	return &Client{ID: id, rec: rec, rnd: rand.New(rand.NewSource(seed)), Pin: id, Rate: 40 * time.Millisecond,
		hc:   &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
		seen: map[string]model.Output{}, lastVal: map[string]string{}}
}

// Run issues operations until ctx ends.
func (c *Client) Run(ctx context.Context) {
	tick := time.NewTicker(c.Rate)
	defer tick.Stop()
	target := c.Pin
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		members := c.Members()
		m := members[target%len(members)]
		if !c.once(ctx, m) && !c.Sticky {
			target++
		}
	}
}

// once runs one operation against m and records it; false when m could not be reached.
func (c *Client) once(ctx context.Context, m *Member) bool {
	keys := c.Keys()
	key := keys[c.rnd.Intn(len(keys))]
	in := model.Input{Kind: c.Mix[c.rnd.Intn(len(c.Mix))], Key: key}
	c.seq++
	value := fmt.Sprintf("c%d-%d", c.ID, c.seq)
	form := url.Values{}
	method := http.MethodPut
	u := m.ClientURL() + "/v2/keys" + key
	switch in.Kind {
	case model.Get:
		method, form = http.MethodGet, nil
		if c.rnd.Intn(2) == 0 {
			u += "?quorum=true"
		}
	case model.Put:
		in.Value = value
	case model.Create:
		in.Value = value
		form.Set("prevExist", "false")
	case model.CASValue:
		in.Value, in.PrevValue = value, c.lastVal[key]
		if in.PrevValue == "" {
			in.PrevValue = "none"
		}
		form.Set("prevValue", in.PrevValue)
	case model.CASIndex:
		in.Value, in.PrevIndex = value, c.seen[key].Mod
		if in.PrevIndex == 0 {
			in.PrevIndex = 1
		}
		form.Set("prevIndex", strconv.FormatUint(in.PrevIndex, 10))
	case model.Delete:
		method, form = http.MethodDelete, nil
	}
	if in.Value != "" {
		form.Set("value", in.Value)
	}
	call := c.rec.now()
	status, a, idx, err := do(ctx, c.hc, method, u, form)
	ret := c.rec.now()
	op := model.Op{Client: c.ID, Node: m.Name, Input: in, Call: call, Return: ret}
	switch {
	case errors.Is(err, errNotSent):
		return false
	case err != nil || (a.ErrorCode != model.ErrKeyNotFound && a.ErrorCode != model.ErrTestFailed &&
		a.ErrorCode != model.ErrNodeExist && status/100 != 2):
		if !in.IsWrite() {
			return err == nil // a failed read tells nothing and changed nothing
		}
		op.Output, op.Return = model.Output{Unknown: true}, model.Pending
	case a.ErrorCode != 0:
		op.Output = model.Output{Err: a.ErrorCode, Index: idx}
	default:
		if a.Node == nil {
			op.Output, op.Return = model.Output{Unknown: true}, model.Pending
			break
		}
		op.Output = model.Output{Mod: a.Node.ModifiedIndex, Index: idx}
		if in.Kind == model.Get && a.Node.Value != nil {
			op.Output.Value = *a.Node.Value
		}
		if in.Kind != model.Delete {
			c.seen[key] = op.Output
			c.lastVal[key] = in.Value
			if in.Kind == model.Get {
				c.lastVal[key] = op.Output.Value
			}
		}
	}
	c.rec.add(op)
	return true
}
