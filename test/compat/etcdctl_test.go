package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

// etcdctlPath finds Debian's etcdctl (package etcd-client). A missing binary
// fails the test rather than skipping it: scripts/deps.sh installs it.
func etcdctlPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ETCDCTL_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("etcdctl"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/etcdctl"); err == nil {
		return "/usr/bin/etcdctl"
	}
	t.Fatal("etcdctl not found: run scripts/deps.sh (Debian package etcd-client)")
	return ""
}

type ctlResult struct {
	stdout, stderr string
	rc             int
}

func (r ctlResult) String() string {
	return fmt.Sprintf("rc=%d stdout=%q stderr=%q", r.rc, r.stdout, r.stderr)
}

func etcdctlCmd(ctx context.Context, t *testing.T, endpoints string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, etcdctlPath(t), append([]string{"--endpoints", endpoints}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("etcdctl: %v", err)
		return -1
	}
}

func etcdctl(t *testing.T, endpoints string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, out, errb := etcdctlCmd(ctx, t, endpoints, args...)
	err := cmd.Run()
	return ctlResult{out.String(), errb.String(), exitCode(t, err)}
}

var indexRE = regexp.MustCompile(`(Index"?:\s*)\d+`)

// TestEtcdctlKeys walks etcdctl's v2 key commands. Error lines carry the
// store index, which must be the index at the time of the failed command
// (a failure changes nothing), so {idx} is filled from X-Etcd-Index just
// before each command.
func TestEtcdctlKeys(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	ep := n.ClientURL()
	steps := []struct {
		args           []string
		stdout, stderr string
		rc             int
		sortLines      bool // etcd lists children in map order unless --sort
	}{
		{args: []string{"set", "/ctl/a", "hello"}, stdout: "hello\n"},
		{args: []string{"get", "/ctl/a"}, stdout: "hello\n"},
		{args: []string{"mk", "/ctl/a", "again"}, stderr: "Error:  105: Key already exists (/ctl/a) [{idx}]\n", rc: 4},
		{args: []string{"mk", "/ctl/b", "new"}, stdout: "new\n"},
		{args: []string{"mkdir", "/ctl/d"}},
		{args: []string{"mkdir", "/ctl/d"}, stderr: "Error:  105: Key already exists (/ctl/d) [{idx}]\n", rc: 4},
		{args: []string{"set", "/ctl/d/x", "1"}, stdout: "1\n"},
		{args: []string{"ls", "/ctl", "--recursive"}, stdout: "/ctl/a\n/ctl/b\n/ctl/d\n/ctl/d/x\n", sortLines: true},
		{args: []string{"ls", "--sort", "-r", "/ctl"}, stdout: "/ctl/a\n/ctl/b\n/ctl/d\n/ctl/d/x\n"},
		{args: []string{"ls", "--sort", "-p", "/ctl"}, stdout: "/ctl/a\n/ctl/b\n/ctl/d/\n"},
		{args: []string{"ls", "/nope"}, stderr: "Error:  100: Key not found (/nope) [{idx}]\n", rc: 4},
		{args: []string{"get", "/ctl/missing"}, stderr: "Error:  100: Key not found (/ctl/missing) [{idx}]\n", rc: 4},
		{args: []string{"get", "/ctl/d"}, stderr: "/ctl/d: is a directory\n", rc: 1},
		{args: []string{"update", "/ctl/a", "world"}, stdout: "world\n"},
		{args: []string{"update", "/ctl/zz", "v"}, stderr: "Error:  100: Key not found (/ctl/zz) [{idx}]\n", rc: 4},
		{args: []string{"updatedir", "--ttl", "100", "/ctl/d"}},
		{args: []string{"updatedir", "--ttl", "5", "/ctl/nod"}, stderr: "Error:  100: Key not found (/ctl/nod) [{idx}]\n", rc: 4},
		{args: []string{"set", "--swap-with-value", "nope", "/ctl/a", "v"}, stderr: "Error:  101: Compare failed ([nope != world]) [{idx}]\n", rc: 4},
		{args: []string{"set", "--swap-with-value", "world", "/ctl/a", "v2"}, stdout: "v2\n"},
		{args: []string{"rm", "/ctl/b"}, stdout: "PrevNode.Value: new\n"},
		{args: []string{"rm", "/ctl/b"}, stderr: "Error:  100: Key not found (/ctl/b) [{idx}]\n", rc: 4},
		{args: []string{"rm", "/ctl/d"}, stderr: "Error:  102: Not a file (/ctl/d) [{idx}]\n", rc: 4},
		{args: []string{"rmdir", "/ctl/d"}, stderr: "Error:  108: Directory not empty (/ctl/d) [{idx}]\n", rc: 4},
		{args: []string{"rm", "/ctl/d/x"}, stdout: "PrevNode.Value: 1\n"},
		{args: []string{"rmdir", "/ctl/d"}},
		{args: []string{"mkdir", "/ctl/e"}},
		{args: []string{"set", "/ctl/e/x", "1"}, stdout: "1\n"},
		{args: []string{"rm", "--recursive", "/ctl/e"}},
		{args: []string{"get", "/ctl/e"}, stderr: "Error:  100: Key not found (/ctl/e) [{idx}]\n", rc: 4},
		{args: []string{"-o", "json", "get", "/ctl/a"},
			stdout: `{"action":"get","node":{"key":"/ctl/a","value":"v2","nodes":null,"createdIndex":N,"modifiedIndex":N},"prevNode":null}` + "\n"},
		{args: []string{"-o", "extended", "get", "/ctl/a"},
			stdout: "Key: /ctl/a\nCreated-Index: N\nModified-Index: N\nTTL: 0\nIndex: N\n\nv2\n"},
	}
	for _, s := range steps {
		idx := etcdIndex(t, n)
		got := etcdctl(t, ep, s.args...)
		got.stdout = indexRE.ReplaceAllString(got.stdout, "${1}N")
		want := ctlResult{s.stdout, strings.ReplaceAll(s.stderr, "{idx}", strconv.FormatUint(idx, 10)), s.rc}
		if s.sortLines {
			got.stdout = sortedLines(got.stdout)
			want.stdout = sortedLines(want.stdout)
		}
		if got != want {
			t.Errorf("etcdctl %s:\n got %v\nwant %v", strings.Join(s.args, " "), got, want)
		}
		if t.Failed() {
			return
		}
	}
}

func TestEtcdctlUpdatedirSetsTTL(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	ep := n.ClientURL()
	if r := etcdctl(t, ep, "mkdir", "/ttl/d"); r.rc != 0 {
		t.Fatal(r)
	}
	if r := etcdctl(t, ep, "updatedir", "--ttl", "100", "/ttl/d"); r != (ctlResult{}) {
		t.Fatalf("updatedir: %v", r)
	}
	_, body := do(t, http.MethodGet, ep+"/v2/keys/ttl/d", nil)
	var ev struct {
		Node struct {
			Dir bool  `json:"dir"`
			TTL int64 `json:"ttl"`
		} `json:"node"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if !ev.Node.Dir || ev.Node.TTL < 98 || ev.Node.TTL > 100 {
		t.Fatalf("dir after updatedir --ttl 100: %s", body)
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// startWatch runs `etcdctl watch` in the background and returns once the
// server counts one more watcher, so the write that follows is seen.
func startWatch(t *testing.T, n *procs.Node, args ...string) func() ctlResult {
	t.Helper()
	before, _ := watchers(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd, out, errb := etcdctlCmd(ctx, t, n.ClientURL(), append([]string{"watch"}, args...)...)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(cancel)
	waitFor(t, 10*time.Second, "etcdctl watch to register", func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			return true, "exited"
		default:
		}
		w, s := watchers(t, n)
		return w > before, s
	})
	return func() ctlResult {
		t.Helper()
		select {
		case err := <-done:
			return ctlResult{out.String(), errb.String(), exitCode(t, err)}
		case <-time.After(15 * time.Second):
			t.Fatalf("etcdctl watch %v did not exit after the write; stdout=%q stderr=%q", args, out, errb)
			return ctlResult{}
		}
	}
}

func TestEtcdctlWatch(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	ep := n.ClientURL()
	// Keeps --after-index below above 0, which etcdctl reads as "none".
	do(t, http.MethodPut, ep+"/v2/keys/ctl/first", url.Values{"value": {"1"}})

	wait := startWatch(t, n, "/ctl/w")
	do(t, http.MethodPut, ep+"/v2/keys/ctl/w", url.Values{"value": {"watched"}})
	if got := wait(); got != (ctlResult{stdout: "watched\n"}) {
		t.Errorf("watch /ctl/w: %v", got)
	}

	wait = startWatch(t, n, "--recursive", "/ctl/wd")
	do(t, http.MethodPut, ep+"/v2/keys/ctl/wd/x/y", url.Values{"value": {"deep"}})
	if got := wait(); got != (ctlResult{stdout: "[set] /ctl/wd/x/y\ndeep\n"}) {
		t.Errorf("watch --recursive /ctl/wd: %v", got)
	}

	// An index in the past answers at once from the event history.
	// etcdctl asks for waitIndex = after-index+1.
	_, body := do(t, http.MethodGet, ep+"/v2/keys/ctl/w", nil)
	var ev struct {
		Node struct {
			ModifiedIndex uint64 `json:"modifiedIndex"`
		} `json:"node"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Node.ModifiedIndex == 0 {
		t.Fatalf("GET /ctl/w: %v %s", err, body)
	}
	got := etcdctl(t, ep, "watch", "--after-index", strconv.FormatUint(ev.Node.ModifiedIndex-1, 10), "/ctl/w")
	if got != (ctlResult{stdout: "watched\n"}) {
		t.Errorf("watch --after-index: %v", got)
	}

	wait = startWatch(t, n, "/ctl/w")
	do(t, http.MethodDelete, ep+"/v2/keys/ctl/w", nil)
	if got := wait(); got.rc != 0 || got.stderr != "" {
		t.Errorf("watch on delete: %v", got)
	}
}

type v2Member struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

func members(t *testing.T, ep string) []v2Member {
	t.Helper()
	resp, body := do(t, http.MethodGet, ep+"/v2/members", nil)
	var ms struct {
		Members []v2Member `json:"members"`
	}
	if resp.StatusCode != 200 {
		t.Fatalf("/v2/members: %s %s", resp.Status, body)
	}
	if err := json.Unmarshal(body, &ms); err != nil {
		t.Fatalf("/v2/members: %v: %s", err, body)
	}
	return ms.Members
}

// memberLines renders what `etcdctl member list` prints for started members,
// in the order the server lists them.
func memberLines(ms []v2Member, leaderName string) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s: name=%s peerURLs=%s clientURLs=%s isLeader=%v\n",
			m.ID, m.Name, strings.Join(m.PeerURLs, ","), strings.Join(m.ClientURLs, ","), m.Name == leaderName)
	}
	return b.String()
}

func healthLines(ms []v2Member) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "member %s is healthy: got healthy result from %s\n", m.ID, m.ClientURLs[0])
	}
	return b.String() + "cluster is healthy\n"
}

func TestEtcdctlMemberListSingleNode(t *testing.T) {
	n := procs.StartNode(t, procs.Options{})
	ms := members(t, n.ClientURL())
	if len(ms) != 1 || ms[0].Name != n.Name || ms[0].PeerURLs[0] != n.PeerURL() || ms[0].ClientURLs[0] != n.ClientURL() {
		t.Fatalf("/v2/members: %+v", ms)
	}
	if got := etcdctl(t, n.ClientURL(), "member", "list"); got != (ctlResult{stdout: memberLines(ms, n.Name)}) {
		t.Errorf("member list: %v", got)
	}
	if got := etcdctl(t, n.ClientURL(), "cluster-health"); got != (ctlResult{stdout: healthLines(ms)}) {
		t.Errorf("cluster-health: %v", got)
	}
}

// TestEtcdctlClusterMembers covers issue 3's etcdctl checks on three real
// processes: member list, cluster-health, member add (then start the new
// member with state existing), member remove.
func TestEtcdctlClusterMembers(t *testing.T) {
	c := procs.StartCluster(t, 3, procs.Options{})
	leader, err := c.WaitLeader(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ep := strings.Join(c.ClientURLs(), ",")
	ms := members(t, leader.ClientURL())
	if len(ms) != 3 {
		t.Fatalf("members: %+v", ms)
	}
	if !sort.SliceIsSorted(ms, func(i, j int) bool { return hexLess(ms[i].ID, ms[j].ID) }) {
		t.Errorf("etcd lists members by id; got %+v", ms)
	}
	for _, node := range c.Nodes {
		if !hasMember(ms, node) {
			t.Errorf("member %s (%s, %s) missing from %+v", node.Name, node.PeerURL(), node.ClientURL(), ms)
		}
	}
	if got := etcdctl(t, ep, "member", "list"); got != (ctlResult{stdout: memberLines(ms, leader.Name)}) {
		t.Errorf("member list:\n got %v\nwant %q", got, memberLines(ms, leader.Name))
	}
	if got := etcdctl(t, ep, "cluster-health"); got != (ctlResult{stdout: healthLines(ms)}) {
		t.Errorf("cluster-health: %v", got)
	}
	if got := etcdctl(t, ep, "member", "remove", "12345"); got != (ctlResult{
		stderr: "Couldn't find a member in the cluster with an ID of 12345.\n", rc: 1}) {
		t.Errorf("member remove unknown: %v", got)
	}

	n4 := c.NewMember("n4")
	// etcd refuses reconfiguration until its members have been connected for
	// a while ("unhealthy cluster"), so an operator retries; so does the test.
	var add ctlResult
	waitFor(t, 20*time.Second, "member add to be accepted", func() (bool, string) {
		add = etcdctl(t, ep, "member", "add", "n4", n4.PeerURL())
		return add.rc == 0, add.String()
	})
	addRE := regexp.MustCompile(`^Added member named n4 with ID ([0-9a-f]+) to cluster\n\n` +
		`ETCD_NAME="n4"\nETCD_INITIAL_CLUSTER="([^"]*)"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`)
	m := addRE.FindStringSubmatch(add.stdout)
	if add.rc != 0 || m == nil {
		t.Fatalf("member add: %v", add)
	}
	id := m[1]
	var wantInitial []string
	for _, node := range c.Nodes {
		wantInitial = append(wantInitial, node.Name+"="+node.PeerURL())
	}
	if got := strings.Split(m[2], ","); sortedLines(strings.Join(got, "\n")) != sortedLines(strings.Join(wantInitial, "\n")) {
		t.Errorf("ETCD_INITIAL_CLUSTER=%q, want the members %v", m[2], wantInitial)
	}
	list := etcdctl(t, ep, "member", "list")
	if !strings.Contains(list.stdout, id+"[unstarted]: peerURLs="+n4.PeerURL()+"\n") {
		t.Errorf("member list after add: %v", list)
	}
	if err := n4.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "cluster-health with four healthy members", func() (bool, string) {
		r := etcdctl(t, ep, "cluster-health")
		return r.rc == 0 && strings.Count(r.stdout, "got healthy result from") == 4, r.String()
	})
	if got := etcdctl(t, ep, "member", "remove", id); got != (ctlResult{stdout: "Removed member " + id + " from cluster\n"}) {
		t.Errorf("member remove: %v", got)
	}
	if ms := members(t, leader.ClientURL()); len(ms) != 3 {
		t.Errorf("members after remove: %+v", ms)
	}
}

func hasMember(ms []v2Member, n *procs.Node) bool {
	for _, m := range ms {
		if m.Name == n.Name && len(m.PeerURLs) == 1 && m.PeerURLs[0] == n.PeerURL() &&
			len(m.ClientURLs) == 1 && m.ClientURLs[0] == n.ClientURL() {
			return true
		}
	}
	return false
}

func hexLess(a, b string) bool {
	x, _ := strconv.ParseUint(a, 16, 64)
	y, _ := strconv.ParseUint(b, 16, 64)
	return x < y
}
