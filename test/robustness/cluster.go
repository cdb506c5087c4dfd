package robustness

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-io/cairn/test/ports"
	"github.com/cairn-io/cairn/test/procs"
	"github.com/cairn-io/cairn/test/robustness/faults"
)

// Member is one cairnd process: it listens for clients and peers on its own loopback IP and
// advertises a peer URL that points at its proxy, so every byte between members crosses a proxy
// that knows who sent it.
type Member struct {
	*procs.Process
	IP         string // 127.0.0.(10+i): client and peer listeners, source of its peer dials
	ClientPort int
	PeerPort   int
	Proxy      *faults.Proxy // on 127.0.0.(20+i), in front of PeerPort
	DataDir    string
	state      string // --initial-cluster-state
}

// ClientURL is where clients and watchers talk to this member.
func (m *Member) ClientURL() string { return fmt.Sprintf("http://%s:%d", m.IP, m.ClientPort) }

// PeerURL is the advertised peer URL: the proxy's address.
func (m *Member) PeerURL() string { return "http://" + m.Proxy.Addr() }

// WaitHealthy polls m's /health until it is true, the process exits, or timeout passes.
func (m *Member) WaitHealthy(timeout time.Duration) error {
	return m.Process.WaitHealthy(m.ClientURL(), timeout)
}

// Cluster is a set of members started together.
type Cluster struct {
	Bin     string
	Token   string
	Members []*Member
	Extra   []string // flags added to every member
}

// NewCluster allocates n members under dir, with their proxies running, without starting them.
func NewCluster(bin, dir string, n int, seed int64, extra []string) (*Cluster, error) {
	c := &Cluster{Bin: bin, Token: fmt.Sprintf("robustness-%d", seed), Extra: extra}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		m := &Member{Process: &procs.Process{Name: name, Bin: bin, LogPath: filepath.Join(dir, name, "output.log")},
			IP: fmt.Sprintf("127.0.0.%d", 10+i), state: "new"}
		var err error
		if m.ClientPort, err = ports.Free(m.IP); err != nil {
			c.Close()
			return nil, err
		}
		if m.PeerPort, err = ports.Free(m.IP); err != nil {
			c.Close()
			return nil, err
		}
		target := fmt.Sprintf("%s:%d", m.IP, m.PeerPort)
		if m.Proxy, err = faults.Listen(fmt.Sprintf("127.0.0.%d:0", 20+i), target, seed+int64(i)); err != nil {
			c.Close()
			return nil, err
		}
		m.DataDir = filepath.Join(dir, m.Name, "data")
		if err := os.MkdirAll(filepath.Dir(m.LogPath), 0o755); err != nil {
			c.Close()
			return nil, err
		}
		c.Members = append(c.Members, m)
	}
	return c, nil
}

func (c *Cluster) initialCluster() string {
	var parts []string
	for _, m := range c.Members {
		parts = append(parts, m.Name+"="+m.PeerURL())
	}
	return strings.Join(parts, ",")
}

func (c *Cluster) args(m *Member) []string {
	return append([]string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL(),
		"--advertise-client-urls", m.ClientURL(),
		"--listen-peer-urls", fmt.Sprintf("http://%s:%d", m.IP, m.PeerPort),
		"--initial-advertise-peer-urls", m.PeerURL(),
		"--initial-cluster", c.initialCluster(),
		"--initial-cluster-state", m.state,
		"--initial-cluster-token", c.Token,
	}, c.Extra...)
}

// Launch starts m's process with the cluster's current view of it, without waiting for it.
func (c *Cluster) Launch(m *Member) error {
	if m.Running() {
		return fmt.Errorf("%s is already running", m.Name)
	}
	m.Args = c.args(m)
	return m.Launch()
}

// StartAll launches every stopped member and waits until all are healthy.
func (c *Cluster) StartAll(timeout time.Duration) error {
	for _, m := range c.Members {
		if !m.Running() {
			if err := c.Launch(m); err != nil {
				return err
			}
		}
	}
	return c.WaitHealthy(timeout)
}

// WaitHealthy polls until every member answers /health with true.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	for _, m := range c.Members {
		if err := m.WaitHealthy(timeout); err != nil {
			return err
		}
	}
	return nil
}

// selfState reads /v2/stats/self's state.
func (m *Member) selfState() (string, error) {
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get(m.ClientURL() + "/v2/stats/self")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return "", err
	}
	return s.State, nil
}

// WaitLeader polls until exactly one running member says it leads.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Member, error) {
	deadline := time.Now().Add(timeout)
	for {
		var leaders []*Member
		for _, m := range c.Members {
			if !m.Running() {
				continue
			}
			if st, err := m.selfState(); err == nil && st == "StateLeader" {
				leaders = append(leaders, m)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d leaders after %v", len(leaders), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Others returns every member but m.
func (c *Cluster) Others(m *Member) []*Member {
	var out []*Member
	for _, o := range c.Members {
		if o != m {
			out = append(out, o)
		}
	}
	return out
}

// Isolate cuts m off from every other member in both directions.
func (c *Cluster) Isolate(m *Member) {
	for _, o := range c.Others(m) {
		m.Proxy.Set(o.IP, faults.Rule{Blackhole: true})
		o.Proxy.Set(m.IP, faults.Rule{Blackhole: true})
	}
}

// Degrade applies r to all peer traffic between every pair of members.
func (c *Cluster) Degrade(r faults.Rule) {
	for _, m := range c.Members {
		for _, o := range c.Others(m) {
			m.Proxy.Set(o.IP, r)
		}
	}
}

// Heal lifts every network fault.
func (c *Cluster) Heal() {
	for _, m := range c.Members {
		m.Proxy.Clear()
	}
}

type apiMember struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	PeerURLs []string `json:"peerURLs"`
}

// memberID asks via for the ID of the member whose peer URL is m's.
func (c *Cluster) memberID(via, m *Member) (string, error) {
	hc := http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get(via.ClientURL() + "/v2/members")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list struct {
		Members []apiMember `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", err
	}
	for _, am := range list.Members {
		for _, u := range am.PeerURLs {
			if u == m.PeerURL() {
				return am.ID, nil
			}
		}
	}
	return "", fmt.Errorf("%s not in the member list of %s", m.Name, via.Name)
}

// RemoveAndReAdd removes m from the cluster through via, kills it, wipes its data, adds it
// back with the same peer URL and starts it with --initial-cluster-state existing.
func (c *Cluster) RemoveAndReAdd(m, via *Member, timeout time.Duration) error {
	id, err := c.memberID(via, m)
	if err != nil {
		return err
	}
	hc := http.Client{Timeout: 5 * time.Second}
	if err := retryStatus(timeout, http.StatusNoContent, func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodDelete, via.ClientURL()+"/v2/members/"+id, nil)
		return hc.Do(req)
	}); err != nil {
		return fmt.Errorf("remove %s: %w", m.Name, err)
	}
	if err := m.Kill(); err != nil {
		return err
	}
	if err := os.RemoveAll(m.DataDir); err != nil {
		return err
	}
	body := fmt.Sprintf(`{"peerURLs":[%q]}`, m.PeerURL())
	if err := retryStatus(timeout, http.StatusCreated, func() (*http.Response, error) {
		return hc.Post(via.ClientURL()+"/v2/members", "application/json", strings.NewReader(body))
	}); err != nil {
		return fmt.Errorf("add %s back: %w", m.Name, err)
	}
	m.state = "existing"
	if err := c.Launch(m); err != nil {
		return err
	}
	return m.WaitHealthy(timeout)
}

// retryStatus repeats do until it answers want, a 4xx other than want, or timeout passes.
func retryStatus(timeout time.Duration, want int, do func() (*http.Response, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := do()
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, b)
			if resp.StatusCode/100 == 4 {
				return err
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// LogTails returns the last lines of every member's output.
func (c *Cluster) LogTails(lines int) string {
	var b strings.Builder
	for _, m := range c.Members {
		fmt.Fprintf(&b, "--- last %d lines of %s (%s):\n%s\n", lines, m.Name, m.LogPath, m.LogTail(lines))
	}
	return b.String()
}

// Close kills every process and stops the proxies.
func (c *Cluster) Close() {
	for _, m := range c.Members {
		m.Process.Close()
		if m.Proxy != nil {
			m.Proxy.Close()
		}
	}
}
