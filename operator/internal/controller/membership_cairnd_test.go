package controller

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	cairn "github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// memberBinaries builds cairnd (from the repository's root module) and cairn-k8s-init, the two
// binaries of the image, for the kubelet to run. $CAIRND_BIN names a cairnd built already.
func memberBinaries(t *testing.T) (cairnd, initBin string) {
	t.Helper()
	dir := t.TempDir()
	build := func(moduleDir, pkg, out string) {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = moduleDir
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, buf.String())
		}
	}
	cairnd = os.Getenv("CAIRND_BIN")
	if cairnd == "" {
		cairnd = filepath.Join(dir, "cairnd")
		build(filepath.Join("..", "..", ".."), "./cmd/cairnd", cairnd)
	}
	initBin = filepath.Join(dir, "cairn-k8s-init")
	build(filepath.Join("..", ".."), "./cmd/cairn-k8s-init", initBin)
	return cairnd, initBin
}

// startMembers is what every test with real members starts from: root (each member runs in
// its own mount namespace), the member binaries, a namespace and its kubelet for cluster name
// with the given racks.
func startMembers(t *testing.T, name string, racks ...int32) (*kubelet, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: every member runs in its own mount namespace (unshare -m) to read a private /etc/hosts")
	}
	if out, err := exec.Command("unshare", "-m", "--", "true").CombinedOutput(); err != nil {
		t.Fatalf("unshare -m (util-linux) must work here for the members' private /etc/hosts: %v %s", err, out)
	}
	cairnd, initBin := memberBinaries(t)
	ns := namespace(t)
	return startKubelet(t, ns, name, cairnd, initBin, racks...), ns
}

// createCluster creates the CairnCluster and deletes it when the test ends, before the members
// stop: the operator must not go on reconciling a cluster that is gone.
func createCluster(t *testing.T, ns, name string, spec cairnv1.CairnClusterSpec) *cairnv1.CairnCluster {
	t.Helper()
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	if err := k8s.Create(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := client.IgnoreNotFound(k8s.Delete(context.Background(), cc)); err != nil {
			t.Errorf("deleting the CairnCluster: %v", err)
		}
	})
	return cc
}

// rollOut changes the image and waits until every one of pods runs the new template in a
// process started since, and the cluster is complete again.
func rollOut(t *testing.T, k *kubelet, cc *cairnv1.CairnCluster, image string, pods ...string) {
	t.Helper()
	before := map[string]int{}
	for _, p := range pods {
		before[p] = k.startsOf(p)
	}
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Image = image })
	want := podTemplate(cc, 0).Annotations[ConfigHashAnnotation]
	eventually(t, 150*time.Second, func() error {
		for _, name := range pods {
			p := &corev1.Pod{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: cc.Namespace, Name: name}, p); err != nil {
				return err
			}
			if p.Annotations[ConfigHashAnnotation] != want {
				return fmt.Errorf("pod %s still runs the old template", p.Name)
			}
			if k.startsOf(p.Name) <= before[p.Name] {
				return fmt.Errorf("pod %s's cairnd was not restarted", p.Name)
			}
		}
		return settled(cc, len(pods))
	})
}

// TestMembershipWithRealMembers runs the operator against real cairnd members: it grows a
// cluster from one member to three, restarts every member for a new image, and shrinks it to
// one, while a writer writes all the time; every acknowledged write must be there at the end,
// the cluster must keep its quorum, and no more than one member may be joining at a time.
func TestMembershipWithRealMembers(t *testing.T) {
	ctx := context.Background()
	const name = "m"
	k, ns := startMembers(t, name)
	cc := createCluster(t, ns, name, cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:1"})
	pod := func(i int) string { return names.Pod(name, i) }
	waitSettled(t, cc, 1, 90*time.Second)

	w := startWriter(t, k.ips[pod(0)], name)
	mon := startMonitor(t, k)
	// From now on a member's pod starts only once the member is in raft (as a learner; its
	// peer URL is known ahead with fabricType pod), and the replicas drop below a member's pod
	// only once it has left raft.
	var (
		checkedMu sync.Mutex
		checked   = map[string]int{}
	)
	k.setAdmit(func(op, p string) error {
		ms, err := raftMembers(k)
		if err != nil {
			t.Logf("admitting %s of %s: %v", op, p, err)
			return nil
		}
		checkedMu.Lock()
		checked[op]++
		checkedMu.Unlock()
		peer := names.PeerURL("http", p, name, ns)
		in := slices.ContainsFunc(ms, func(m api.ClusterMember) bool { return m.PeerURL == peer })
		switch {
		case op == "create" && !in:
			return fmt.Errorf("no member has its peer URL %s yet: its pod must start after it joined raft", peer)
		case op == "delete" && in:
			return fmt.Errorf("its member (%s) is still in raft: the replicas must drop after it left", peer)
		}
		return nil
	})

	// Scale up: members join one at a time, as learners promoted once caught up.
	acked := w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 3 })
	waitSettled(t, cc, 3, 90*time.Second)
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	w.progressed(t, acked, "scale up")

	// Rolling restart: a new image restarts every member once, the leader last.
	acked = w.count()
	stoppedBefore := len(k.stopped())
	rollOut(t, k, cc, "cairn:2", pod(0), pod(1), pod(2))
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	restarted := k.stopped()[stoppedBefore:]
	if len(restarted) != 3 {
		t.Errorf("rolling restart stopped %d processes, want each of the 3 members once: %+v", len(restarted), restarted)
	}
	for _, s := range restarted {
		if s.leader {
			t.Errorf("member %s was stopped while it led the cluster: leadership must be handed away first", s.pod)
		}
	}
	w.progressed(t, acked, "rolling restart")

	// Scale down to one: the highest members leave raft first, then their pods and claims go.
	acked = w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 1 })
	waitSettled(t, cc, 1, 90*time.Second)
	checkVoters(t, w.cluster, pod(0))
	eventually(t, 30*time.Second, func() error {
		for _, i := range []int{1, 2} {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: pod(i)}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("pod %s is still there (%v)", pod(i), err)
			}
			claim := PVCName(pod(i))
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: claim}, &corev1.PersistentVolumeClaim{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("claim %s is still there (%v)", claim, err)
			}
			if _, err := os.Stat(k.claimDir(claim)); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("the volume of %s is still there", claim)
			}
		}
		return nil
	})
	sts := &appsv1.StatefulSet{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sts); err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 1 {
		t.Errorf("StatefulSet replicas %d, want 1", *sts.Spec.Replicas)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: PVCName(pod(0))}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Errorf("the remaining member's claim: %v", err)
	}
	w.progressed(t, acked, "scale down")

	mon.stop(t)
	w.stop()
	w.verify(t)
	checkedMu.Lock()
	defer checkedMu.Unlock()
	// m-1 and m-2 joined and were restarted; both left.
	if checked["create"] < 4 || checked["delete"] < 2 {
		t.Errorf("the pods' creations and deletions were checked against raft %v times: too few to mean anything", checked)
	}
}

// TestMembershipOnFabricNetwork runs the operator with fabricType configuredIP against real
// cairnd members: a member's fabric address (a Multus network's) is known only once its pod
// runs, so the operator registers it under its stable name, which does not reach its peer
// port, and the member sets its fabric URL itself as it joins. A rolling restart then brings
// every member back on a new fabric address, which it sets again as it starts. A writer writes
// throughout and loses nothing.
func TestMembershipOnFabricNetwork(t *testing.T) {
	const name = "f"
	k, ns := startMembers(t, name)
	k.useFabricNetwork("fabric")
	cc := createCluster(t, ns, name, cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:1", CairnNetworkPolicy: cairnv1.CairnNetworkPolicy{
		FabricType: cairnv1.AccessConfiguredIP, CustomFabricNetworkNames: []string{"fabric"}}})
	pod := func(i int) string { return names.Pod(name, i) }
	waitSettled(t, cc, 1, 90*time.Second)
	w := startWriter(t, k.ips[pod(0)], name)
	mon := startMonitor(t, k)
	// A pod starts only once its member is in raft: under its placeholder when new, under its
	// name when it runs again.
	k.setAdmit(func(op, p string) error {
		if op != "create" {
			return nil
		}
		ms, err := raftMembers(k)
		if err != nil {
			t.Logf("admitting %s of %s: %v", op, p, err)
			return nil
		}
		placeholder := names.PeerURL("http", p, name, ns)
		if !slices.ContainsFunc(ms, func(m api.ClusterMember) bool { return m.PeerURL == placeholder || m.ServerName == p }) {
			return fmt.Errorf("no member is registered as %s or named %s yet: its pod must start after it joined raft", placeholder, p)
		}
		return nil
	})
	// Every member's peer URL is its pod's current fabric address, not its placeholder.
	onFabric := func() error {
		ms, err := raftMembers(k)
		if err != nil {
			return err
		}
		for _, m := range ms {
			want := fmt.Sprintf("http://%s:%d", k.fabricIPOf(m.ServerName), names.PeerPort)
			if m.PeerURL != want {
				return fmt.Errorf("member %s has peer URL %s, want its fabric address %s", m.ServerName, m.PeerURL, want)
			}
		}
		return nil
	}

	acked := w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 3 })
	waitSettled(t, cc, 3, 120*time.Second)
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	eventually(t, 10*time.Second, onFabric)
	w.progressed(t, acked, "scale up")

	acked = w.count()
	// Every start of a pod gets a new fabric address.
	rollOut(t, k, cc, "cairn:2", pod(0), pod(1), pod(2))
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	eventually(t, 10*time.Second, onFabric)
	w.progressed(t, acked, "rolling restart onto new fabric addresses")

	mon.stop(t)
	w.stop()
	w.verify(t)
}

// TestMembershipWithTLSAndAuth runs the operator against real members with tls and auth set:
// https on the client and peer ports with mutual TLS between members, from the Secret the
// spec names, and auth enabled once the first member runs, so that every member change from
// then on needs the root password the operator reads from its Secret. The cluster grows from
// one member to three, restarts every member for a new image and shrinks to one, with a
// writer (root, over TLS) that must lose nothing.
func TestMembershipWithTLSAndAuth(t *testing.T) {
	ctx := context.Background()
	const name, rootPassword = "s", "s3cret-root"
	k, ns := startMembers(t, name)

	// One certificate for every member, valid for the stable names they dial each other by,
	// for both ends of the peer port's mutual TLS.
	set := tlstest.NewSet(t, "unused")
	member := set.CA.Issue(t, tlstest.Leaf{CN: "member", Hosts: []string{"*." + names.Headless(name) + "." + ns + ".svc"}})
	for secret, data := range map[string]map[string][]byte{
		"s-tls":  {SecretCAKey: set.CA.CertPEM, "tls.crt": member.CertPEM, "tls.key": member.KeyPEM},
		"s-root": {SecretPasswordKey: []byte(rootPassword)},
	} {
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	cc := createCluster(t, ns, name, cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:1",
		TLS: &cairnv1.TLSSpec{SecretName: "s-tls"}, Auth: &cairnv1.AuthSpec{RootSecretName: "s-root"}})
	pod := func(i int) string { return names.Pod(name, i) }
	waitSettled(t, cc, 1, 90*time.Second)

	// Auth on, as an administrator turns it on: root first, then enable, then guest loses all.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(set.CA.CertPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, ServerName: names.PeerHost(pod(0), name, ns)}}}
	call := func(method, path, body string, asRoot bool) {
		t.Helper()
		req, err := http.NewRequest(method, fmt.Sprintf("https://%s:%d%s", k.ips[pod(0)], names.ClientPort, path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if asRoot {
			req.SetBasicAuth("root", rootPassword)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
	}
	call(http.MethodPut, "/v2/auth/users/root", fmt.Sprintf(`{"user":"root","password":%q}`, rootPassword), false)
	call(http.MethodPut, "/v2/auth/enable", "", true)
	call(http.MethodPut, "/v2/auth/roles/guest", `{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}`, true)

	def := cairn.NewClusterDefinition(k.ips[pod(0)], names.ClientPort).ValidateClusterNameIs(name).
		WithTLSConfigOf().CAPEM(set.CA.CertPEM).TLSName(names.PeerHost(pod(0), name, ns)).Done().
		WithNativeCredentials("root", rootPassword)
	w := startWriterOn(t, def)

	acked := w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 3 })
	waitSettled(t, cc, 3, 120*time.Second)
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	w.progressed(t, acked, "scale up")

	acked = w.count()
	rollOut(t, k, cc, "cairn:2", pod(0), pod(1), pod(2))
	checkVoters(t, w.cluster, pod(0), pod(1), pod(2))
	w.progressed(t, acked, "rolling restart")

	acked = w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 1 })
	waitSettled(t, cc, 1, 90*time.Second)
	checkVoters(t, w.cluster, pod(0))
	w.progressed(t, acked, "scale down")

	w.stop()
	w.verify(t)
}

// TestMembershipAcrossRacks runs the operator with two racks against real members: one
// StatefulSet per rack, members spread over them in turn (<name>-<rack>-<i>) and started with
// their --rack-id, created with two members (the schema wants no more racks than members),
// grown to three and shrunk back to two, the last member to join leaving first, with a writer
// that loses nothing.
func TestMembershipAcrossRacks(t *testing.T) {
	ctx := context.Background()
	const name = "r"
	k, ns := startMembers(t, name, 1, 2)
	cc := createCluster(t, ns, name, cairnv1.CairnClusterSpec{Size: 2, Image: "cairn:1", Racks: []cairnv1.Rack{{ID: 1}, {ID: 2}}})
	waitSettled(t, cc, 2, 120*time.Second)
	checkRacksOf := func() error {
		ms, err := raftMembers(k)
		if err != nil {
			return err
		}
		want := map[string]int{"r-1-0": 1, "r-2-0": 2, "r-1-1": 1}
		for _, m := range ms {
			if m.FailureDomain != want[m.ServerName] {
				return fmt.Errorf("member %s is in rack %d, want %d", m.ServerName, m.FailureDomain, want[m.ServerName])
			}
		}
		return nil
	}
	eventually(t, 10*time.Second, checkRacksOf)
	w := startWriter(t, k.ips["r-1-0"], name)

	acked := w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 3 })
	waitSettled(t, cc, 3, 120*time.Second)
	checkVoters(t, w.cluster, "r-1-0", "r-1-1", "r-2-0")
	// Each member runs in its rack's StatefulSet and tells clients its rack.
	eventually(t, 10*time.Second, checkRacksOf)
	checkReplicas := func(want map[string]int32) {
		t.Helper()
		for sts, replicas := range want {
			got := &appsv1.StatefulSet{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: sts}, got); err != nil {
				t.Fatal(err)
			}
			if *got.Spec.Replicas != replicas {
				t.Errorf("StatefulSet %s has %d replicas, want %d", sts, *got.Spec.Replicas, replicas)
			}
		}
	}
	checkReplicas(map[string]int32{"r-1": 2, "r-2": 1})
	w.progressed(t, acked, "scale up across racks")

	acked = w.count()
	setSpec(t, cc, func(s *cairnv1.CairnClusterSpec) { s.Size = 2 })
	waitSettled(t, cc, 2, 90*time.Second)
	checkVoters(t, w.cluster, "r-1-0", "r-2-0")
	eventually(t, 30*time.Second, func() error {
		for _, p := range []string{"r-1-1"} {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: p}, &corev1.Pod{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("pod %s is still there (%v)", p, err)
			}
		}
		return nil
	})
	checkReplicas(map[string]int32{"r-1": 1, "r-2": 1})
	w.progressed(t, acked, "scale down across racks")
	w.stop()
	w.verify(t)
}

// setSpec changes the CairnCluster's spec, retrying on conflicts with the operator's writes.
func setSpec(t *testing.T, cc *cairnv1.CairnCluster, change func(*cairnv1.CairnClusterSpec)) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
			return err
		}
		change(&cc.Spec)
		return k8s.Update(context.Background(), cc)
	})
}

// settled is nil once the operator reports the cluster complete for its current spec.
func settled(cc *cairnv1.CairnCluster, size int) error {
	got := &cairnv1.CairnCluster{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(cc), got); err != nil {
		return err
	}
	st := got.Status
	if st.ObservedGeneration != got.Generation || st.Phase != cairnv1.PhaseCompleted || len(st.Members) != size ||
		int(st.ReadyMembers) != size {
		msg := ""
		if c := findCondition(st.Conditions, ConditionReady); c != nil {
			msg = c.Message
		}
		return fmt.Errorf("generation %d observed %d, phase %s, %d members, %d ready (want %d): %s",
			got.Generation, st.ObservedGeneration, st.Phase, len(st.Members), st.ReadyMembers, size, msg)
	}
	for _, m := range st.Members {
		if m.Role == "learner" || m.Status != api.StatusOnline {
			return fmt.Errorf("member %s is a %s, %s", m.Name, m.Role, m.Status)
		}
	}
	return nil
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func waitSettled(t *testing.T, cc *cairnv1.CairnCluster, size int, d time.Duration) {
	t.Helper()
	eventually(t, d, func() error {
		if t.Failed() {
			// The kubelet saw the operator break a rule: waiting longer shows nothing more.
			t.FailNow()
		}
		return settled(cc, size)
	})
}

// checkVoters asks the members themselves, through the SDK, who is in the cluster.
func checkVoters(t *testing.T, cl *cairn.Cluster, want ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ms, err := cl.Members().All(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, m := range ms {
			if !m.Database {
				return fmt.Errorf("member %s (%s) is not a voter", m.ServerName, m.ID)
			}
			got = append(got, m.ServerName)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("voters %v, want %v", got, want)
		}
		return nil
	})
}

// raftMembers is the membership as the leader has it: a member removed from raft, or one
// that has not applied the latest change, may still list what it last knew.
func raftMembers(k *kubelet) ([]api.ClusterMember, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		for pod, ip := range k.runningPods() {
			var ms api.ClusterMembers
			if err := getJSON(fmt.Sprintf("http://%s:%d/v1/cluster/members", ip, names.ClientPort), &ms); err != nil {
				continue
			}
			for _, m := range ms.Members {
				if m.ServerName == pod && slices.Contains(m.Roles, api.RoleLeader) {
					return ms.Members, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no member says it leads")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(url string, out any) error {
	resp, err := probeClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// writer writes distinct keys through the SDK until stopped and remembers what was
// acknowledged.
type writer struct {
	cluster *cairn.Cluster
	session *cairn.Session
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	acked    map[string]string
	failures int
	lastErr  error
}

func startWriter(t *testing.T, seedIP, clusterName string) *writer {
	t.Helper()
	return startWriterOn(t, cairn.NewClusterDefinition(seedIP, names.ClientPort).ValidateClusterNameIs(clusterName))
}

// startWriterOn is startWriter through a definition of the caller's (TLS, credentials).
func startWriterOn(t *testing.T, def *cairn.ClusterDefinition) *writer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := def.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	b := cairn.DefaultBehavior
	b.Timeout = 3 * time.Second
	wctx, wcancel := context.WithCancel(context.Background())
	w := &writer{cluster: cl, session: cl.CreateSession(b), cancel: wcancel, done: make(chan struct{}), acked: map[string]string{}}
	go w.run(wctx)
	t.Cleanup(w.stop)
	return w
}

func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	for i := 0; ctx.Err() == nil; i++ {
		key, val := fmt.Sprintf("/writer/%06d", i), fmt.Sprintf("v%d", i)
		_, err := w.session.Put(ctx, key, val)
		w.mu.Lock()
		if err == nil {
			w.acked[key] = val
		} else if ctx.Err() == nil {
			w.failures++
			w.lastErr = err
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *writer) stop() {
	w.cancel()
	<-w.done
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// progressed fails unless writes have been acknowledged since the phase began at acked: the
// writer went on through the change. One write may still be waiting out its timeout when a
// short phase ends, so the next acknowledgement may come a little after.
func (w *writer) progressed(t *testing.T, acked int, phase string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if n := w.count(); n <= acked {
			return fmt.Errorf("%s: no write acknowledged since it began (%d failed so far, last: %v)", phase, w.failed(), w.lastError())
		}
		return nil
	})
	t.Logf("%s: %d writes acknowledged, %d failed so far (last: %v)", phase, w.count()-acked, w.failed(), w.lastError())
}

func (w *writer) failed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures
}

func (w *writer) lastError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// verify reads every acknowledged key back, linearizably, from the cluster as it is now.
func (w *writer) verify(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	keys := make([]string, 0, len(w.acked))
	for key := range w.acked {
		keys = append(keys, key)
	}
	w.mu.Unlock()
	b := cairn.DefaultBehavior
	b.Consistency = cairn.Linearizable
	s := w.cluster.CreateSession(b)
	var (
		mu   sync.Mutex
		lost []string
		wg   sync.WaitGroup
	)
	next := make(chan string)
	for range 8 {
		wg.Go(func() {
			for key := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r, err := s.Get(ctx, key)
				cancel()
				if err != nil || r.Node == nil || r.Node.Value != w.acked[key] {
					mu.Lock()
					lost = append(lost, fmt.Sprintf("%s (%v)", key, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, key := range keys {
		next <- key
	}
	close(next)
	wg.Wait()
	if len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("%d of %d acknowledged writes not read back: %s", len(lost), len(keys), strings.Join(lost[:min(len(lost), 20)], ", "))
	}
	t.Logf("read back all %d acknowledged writes", len(keys)-len(lost))
}

// monitor watches the raft membership while the operator works: at most one learner at a time,
// and a majority of the voters' processes running at every look.
type monitor struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	samples     int
	maxLearners int
	violations  []string
}

func startMonitor(t *testing.T, k *kubelet) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitor{cancel: cancel, done: make(chan struct{})}
	read := func() ([]api.ClusterMember, error) { return raftMembers(k) }
	look := func(ms []api.ClusterMember) (voters, up []string, learners int) {
		for _, x := range ms {
			if !x.Database {
				learners++
				continue
			}
			voters = append(voters, x.ServerName)
			if k.running(x.ServerName) {
				up = append(up, x.ServerName)
			}
		}
		return voters, up, learners
	}
	violation := func(voters, up []string, why string) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.violations = append(m.violations, fmt.Sprintf("%s: voters %v, running %v%s",
			time.Now().Format("15:04:05.000"), voters, up, why))
	}
	go func() {
		defer close(m.done)
		var last []api.ClusterMember
		for ctx.Err() == nil {
			before, err := read()
			switch {
			case err == nil:
				last = before
				voters, up, learners := look(before)
				// The same voters before and after the look: the processes were seen against
				// a membership that held the whole time.
				after, err := read()
				if err == nil && sameVoters(before, after) && 2*len(up) <= len(voters) {
					violation(voters, up, "")
				}
				m.mu.Lock()
				m.samples++
				m.maxLearners = max(m.maxLearners, learners)
				m.mu.Unlock()
			case last != nil && ctx.Err() == nil:
				// No leader for seconds: membership cannot have changed since the last
				// leader's view, whose voters must still be mostly running.
				if voters, up, _ := look(last); 2*len(up) <= len(voters) {
					violation(voters, up, " (no leader)")
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

func sameVoters(a, b []api.ClusterMember) bool {
	ids := func(ms []api.ClusterMember) []string {
		var out []string
		for _, m := range ms {
			if m.Database {
				out = append(out, m.ID)
			}
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}

func (m *monitor) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.samples < 5 {
		t.Errorf("the membership was read %d times: too few to mean anything", m.samples)
	}
	if m.maxLearners > 1 {
		t.Errorf("%d learners at once: members must join one at a time", m.maxLearners)
	}
	if len(m.violations) > 0 {
		t.Errorf("the cluster lost its quorum %d times, first: %s", len(m.violations), m.violations[0])
	}
}
