package prometheus_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) { os.Exit(procs.Main(m)) }

// rulesFile finds etcd's alert rules among the files of Debian's etcd-server package.
func rulesFile(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg", "-L", "etcd-server").Output()
	if err != nil {
		t.Fatalf("dpkg -L etcd-server: %v (scripts/deps.sh installs it)", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p := sc.Text()
		if strings.HasSuffix(p, "/etcd3_alert.rules.yml") || strings.HasSuffix(p, "/etcd3_alert.rules.yml.gz") {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatalf("etcd-server ships no etcd3_alert.rules.yml(.gz):\n%s", out)
	return ""
}

// readRules returns the rule file's content, uncompressed.
func readRules(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func parseRules(t *testing.T, b []byte) []rule {
	t.Helper()
	var doc struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

type promClient struct{ base string }

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	str, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(str, 64)
	return f
}

// query evaluates expr now through Prometheus' query API.
func (p promClient) query(expr string) ([]sample, error) {
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, body.Error)
	}
	return body.Data.Result, nil
}

// waitQuery polls expr until ok accepts its result.
func (p promClient) waitQuery(t *testing.T, expr string, ok func([]sample) error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := p.query(expr)
		if err == nil {
			err = ok(res)
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", expr, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func startPrometheus(t *testing.T, rules string, targets []string) promClient {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (scripts/deps.sh installs Debian's prometheus): %v", err)
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: etcd
    static_configs:
      - targets: [%s]
`, rules, strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := procs.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &procs.Process{Name: "prometheus", Bin: bin, LogPath: filepath.Join(dir, "prometheus.log"),
		Args: []string{"--config.file=" + cfgPath, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr}}
	if err := p.Launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.LogTail(40))
		}
		p.Close()
	})
	pc := promClient{base: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(pc.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return pc
			}
		}
		if !p.Running() {
			t.Fatalf("prometheus exited:\n%s", p.LogTail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func count(want int) func([]sample) error {
	return func(res []sample) error {
		if len(res) != want {
			return fmt.Errorf("%d series, want %d: %v", len(res), want, res)
		}
		return nil
	}
}

func TestPrometheusWithEtcdAlertRules(t *testing.T) {
	rulesPath := rulesFile(t)
	rules := parseRules(t, readRules(t, rulesPath))
	exprs := map[string]string{}
	for _, r := range rules {
		if r.Alert != "" {
			exprs[r.Alert] = r.Expr
		}
	}
	for _, name := range []string{"etcdInsufficientMembers", "etcdNoLeader", "etcdHighNumberOfLeaderChanges"} {
		if exprs[name] == "" {
			t.Fatalf("%s has no rule %s", rulesPath, name)
		}
	}
	// Prometheus reads the packaged file itself (uncompressed into the test's directory if need be).
	loaded := rulesPath
	if strings.HasSuffix(loaded, ".gz") {
		loaded = filepath.Join(t.TempDir(), "etcd3_alert.rules.yml")
		if err := os.WriteFile(loaded, readRules(t, rulesPath), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	c := procs.NewCluster(t, 3, procs.Options{})
	instances := map[*procs.Node]string{}
	var targets []string
	for _, n := range c.Nodes {
		port, err := procs.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		inst := fmt.Sprintf("127.0.0.1:%d", port)
		n.Args = append(n.Args, "--listen-metrics-urls", "http://"+inst)
		instances[n] = inst
		targets = append(targets, inst)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, loaded, targets)

	// The rules are loaded, and every member is up with a leader.
	prom.waitQuery(t, `up{job="etcd"} == 1`, count(3))
	prom.waitQuery(t, `etcd_server_has_leader{job="etcd"} == 1`, count(3))
	resp, err := http.Get(prom.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"etcdInsufficientMembers", "etcdNoLeader"} {
		if !bytes.Contains(rb, []byte(`"name":"`+name+`"`)) {
			t.Fatalf("prometheus did not load %s: %s", name, rb)
		}
	}
	// Every rule's expression evaluates; on a healthy cluster the two critical ones do not hold.
	for name, expr := range exprs {
		if _, err := prom.query(expr); err != nil {
			t.Errorf("rule %s: %v", name, err)
		}
	}
	for _, name := range []string{"etcdInsufficientMembers", "etcdNoLeader"} {
		prom.waitQuery(t, exprs[name], count(0))
	}

	// Kill the leader: the survivors' leader-change counters move.
	leader, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]float64{}
	prom.waitQuery(t, `etcd_server_leader_changes_seen_total{job="etcd"}`, func(res []sample) error {
		if len(res) != 3 {
			return fmt.Errorf("%d series", len(res))
		}
		for _, s := range res {
			before[s.Metric["instance"]] = s.float()
		}
		return nil
	})
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Followers(leader) {
		inst := instances[n]
		prom.waitQuery(t, fmt.Sprintf(`etcd_server_leader_changes_seen_total{job="etcd",instance=%q}`, inst), func(res []sample) error {
			if len(res) != 1 || res[0].float() <= before[inst] {
				return fmt.Errorf("leader changes on %s: %v, was %v", inst, res, before[inst])
			}
			return nil
		})
	}
	prom.waitQuery(t, fmt.Sprintf(`up{job="etcd",instance=%q} == 0`, instances[leader]), count(1))

	// Two members down: the survivor has no leader, and both critical rules hold.
	survivors := c.Followers(leader)
	if err := survivors[0].Stop(); err != nil && !errors.Is(err, procs.ErrNotRunning) {
		t.Fatal(err)
	}
	last := instances[survivors[1]]
	prom.waitQuery(t, exprs["etcdInsufficientMembers"], func(res []sample) error {
		if len(res) != 1 || res[0].Metric["job"] != "etcd" || res[0].float() != 1 {
			return fmt.Errorf("etcdInsufficientMembers: %v, want job etcd with 1 member up", res)
		}
		return nil
	})
	prom.waitQuery(t, exprs["etcdNoLeader"], func(res []sample) error {
		if len(res) != 1 || res[0].Metric["instance"] != last {
			return fmt.Errorf("etcdNoLeader: %v, want the survivor %s", res, last)
		}
		return nil
	})
}
