package backup_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

func TestMain(m *testing.M) {
	if procs.IsEtcd() {
		fmt.Println("backup: skipped for target etcd (cairnctl snapshot is Cairn's)")
		os.Exit(0)
	}
	os.Exit(procs.Main(m))
}

func buildCairnctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cairnctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cairn-io/cairn/cmd/cairnctl").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cairnctl: %v\n%s", err, out)
	}
	return bin
}

func cairnctl(t *testing.T, bin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

type keysAnswer struct {
	Node struct {
		Key           string `json:"key"`
		Value         string `json:"value"`
		ModifiedIndex uint64 `json:"modifiedIndex"`
		Nodes         []struct {
			Key           string `json:"key"`
			Value         string `json:"value"`
			ModifiedIndex uint64 `json:"modifiedIndex"`
		} `json:"nodes"`
	} `json:"node"`
}

func put(base, key, value string) (uint64, error) {
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/keys"+key, strings.NewReader(url.Values{"value": {value}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("PUT %s: %s", key, resp.Status)
	}
	var a keysAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return 0, err
	}
	return a.Node.ModifiedIndex, nil
}

type ack struct {
	key, value string
	index      uint64
}

type status struct {
	Index    uint64 `json:"index"`
	Keys     int    `json:"keys"`
	Size     int64  `json:"size"`
	Checksum string `json:"checksum"`
}

// Save while a writer runs, restore into a new three-member cluster: every write acknowledged
// at or below the snapshot's index is there, none above it.
func TestSaveWhileWritingAndRestoreIntoNewCluster(t *testing.T) {
	bin := buildCairnctl(t)
	src := procs.StartCluster(t, 3, procs.Options{})
	leader, err := src.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put(leader.ClientURL(), "/dir/before", "b"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acks []ack
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w, n := range src.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				key, value := fmt.Sprintf("/w/%d-%d", w, i), fmt.Sprint(i)
				idx, err := put(n.ClientURL(), key, value)
				if err != nil {
					continue // not acknowledged: may or may not be in the snapshot
				}
				mu.Lock()
				acks = append(acks, ack{key, value, idx})
				mu.Unlock()
			}
		}()
	}
	// Let the writers get going, then save through one member while they write.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writers acknowledged only %d writes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	hosts := strings.TrimPrefix(src.Nodes[1].ClientURL(), "http://")
	out, errOut, err := cairnctl(t, bin, "--hosts", hosts, "snapshot", "save", file)
	if err != nil {
		t.Fatalf("snapshot save: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "Snapshot saved at "+file) {
		t.Fatalf("snapshot save said %q", out)
	}
	// Keep writing a little after the save, so that writes above its index exist.
	mu.Lock()
	atSave := len(acks)
	mu.Unlock()
	for {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= atSave+30 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	out, errOut, err = cairnctl(t, bin, "-o", "json", "snapshot", "status", file)
	if err != nil {
		t.Fatalf("snapshot status: %v\n%s", err, errOut)
	}
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status %q: %v", out, err)
	}
	fi, _ := os.Stat(file)
	if st.Index == 0 || st.Size != fi.Size() || len(st.Checksum) != 64 {
		t.Fatalf("status %+v for a file of %d bytes", st, fi.Size())
	}
	var below, above int
	for _, a := range acks {
		if a.index <= st.Index {
			below++
		} else {
			above++
		}
	}
	if below == 0 || above == 0 {
		t.Fatalf("snapshot index %d splits %d acknowledged writes into %d below and %d above", st.Index, len(acks), below, above)
	}
	if st.Keys != below+1 {
		t.Fatalf("snapshot holds %d keys, want %d (writes at or below %d, plus /dir/before)", st.Keys, below+1, st.Index)
	}

	// A new cluster, restored member by member from the file.
	dst := procs.NewCluster(t, 3, procs.Options{})
	var initial []string
	for _, n := range dst.Nodes {
		initial = append(initial, n.Name+"="+n.PeerURL())
	}
	for _, n := range dst.Nodes {
		out, errOut, err := cairnctl(t, bin, "snapshot", "restore", file, "--data-dir", n.DataDir, "--name", n.Name,
			"--initial-cluster", strings.Join(initial, ","), "--initial-advertise-peer-urls", n.PeerURL(),
			"--initial-cluster-token", dst.Token)
		if err != nil {
			t.Fatalf("snapshot restore for %s: %v\n%s%s", n.Name, err, out, errOut)
		}
	}
	if err := dst.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range dst.Nodes {
		resp, err := http.Get(n.ClientURL() + "/v2/keys/w?recursive=true")
		if err != nil {
			t.Fatal(err)
		}
		var a keysAnswer
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range a.Node.Nodes {
			got[c.Key] = c.Value
		}
		for _, w := range acks {
			v, ok := got[w.key]
			if w.index <= st.Index && (!ok || v != w.value) {
				t.Fatalf("%s: write %s=%s at index %d (snapshot index %d) is missing (got %q, %v)", n.Name, w.key, w.value, w.index, st.Index, v, ok)
			}
			if w.index > st.Index && ok {
				t.Fatalf("%s: write %s at index %d is after the snapshot's index %d but present", n.Name, w.key, w.index, st.Index)
			}
		}
		if len(got) != below {
			t.Fatalf("%s: %d keys under /w, want %d", n.Name, len(got), below)
		}
	}
	// The new cluster takes writes, above the restored index, and lists only its own members.
	idx, err := put(dst.Nodes[0].ClientURL(), "/after-restore", "x")
	if err != nil || idx <= st.Index {
		t.Fatalf("write after restore: index %d, err %v (snapshot index %d)", idx, err, st.Index)
	}
	resp, err := http.Get(dst.Nodes[0].ClientURL() + "/v2/members")
	if err != nil {
		t.Fatal(err)
	}
	var ms struct {
		Members []struct {
			Name     string   `json:"name"`
			PeerURLs []string `json:"peerURLs"`
		} `json:"members"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ms)
	resp.Body.Close()
	if len(ms.Members) != 3 {
		t.Fatalf("members of the restored cluster: %+v", ms.Members)
	}
	for _, m := range ms.Members {
		if !strings.Contains(strings.Join(initial, ","), m.Name+"="+strings.Join(m.PeerURLs, ",")) {
			t.Fatalf("restored cluster lists a member not its own: %+v", m)
		}
	}
}

// A damaged backup is refused by status and restore with a clear error, and nothing is restored.
func TestCorruptedSnapshotIsRefused(t *testing.T) {
	bin := buildCairnctl(t)
	n := procs.StartNode(t, procs.Options{})
	if _, err := put(n.ClientURL(), "/k", "v"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	if out, errOut, err := cairnctl(t, bin, "--hosts", strings.TrimPrefix(n.ClientURL(), "http://"), "snapshot", "save", file); err != nil {
		t.Fatalf("snapshot save: %v\n%s%s", err, out, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0x40
	truncated := b[:len(b)-10]
	for name, content := range map[string][]byte{"flipped": flipped, "truncated": truncated, "not-a-backup": []byte("hello")} {
		bad := filepath.Join(t.TempDir(), name+".snap")
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := cairnctl(t, bin, "snapshot", "status", bad)
		if err == nil || !strings.Contains(errOut, "backup: file is corrupt") {
			t.Fatalf("%s: status: err %v, stderr %q", name, err, errOut)
		}
		dir := filepath.Join(t.TempDir(), "restored")
		_, errOut, err = cairnctl(t, bin, "snapshot", "restore", bad, "--data-dir", dir, "--name", "a",
			"--initial-cluster", "a=http://127.0.0.1:1", "--initial-advertise-peer-urls", "http://127.0.0.1:1")
		if err == nil || !strings.Contains(errOut, "backup: file is corrupt") {
			t.Fatalf("%s: restore: err %v, stderr %q", name, err, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s: restore left %s behind (%v)", name, dir, err)
		}
	}
	if !strings.Contains(mustRun(t, bin, "snapshot", "status", file), "SHA256") {
		t.Fatal("status of the intact file has no checksum column")
	}
}

func mustRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := cairnctl(t, bin, args...)
	if err != nil {
		t.Fatalf("cairnctl %v: %v\n%s", args, err, errOut)
	}
	return out
}
