package main

import (
	"context"
	"fmt"
	"github.com/cairn-io/cairn/operator/internal/apiserver"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The init step runs as the built binary against a real kube-apiserver, reached through a
// kubeconfig file as in a pod without in-cluster config.
var (
	k8s        client.Client
	kubeconfig string
	binary     string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := apiserver.AssetsDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "cairn-k8s-init-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binary = filepath.Join(tmp, "cairn-k8s-init")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building cairn-k8s-init: %v\n%s", err, out)
		return 1
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer env.Stop()
	user, err := env.AddUser(envtest.User{Name: "init", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kc, err := user.KubeConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kubeconfig = filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "init-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// makePod creates the pod as the StatefulSet would, on a node, with the given annotations.
func makePod(t *testing.T, ns, name, node string, annotations map[string]string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "cairnd", Image: "cairn:test"}}}}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
}

func makeNode(t *testing.T, name string, addrs ...corev1.NodeAddress) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = addrs
	if err := k8s.Status().Update(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	out     string // the runtime file
	stderr  string
	err     error
	elapsed time.Duration
}

func runInit(t *testing.T, ns, pod string, args ...string) result {
	t.Helper()
	output := filepath.Join(t.TempDir(), "etc", "runtime.yaml")
	cmd := exec.Command(binary, append([]string{"--output=" + output, "--headless-service=c-headless"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAME="+pod, "POD_NAMESPACE="+ns,
		"POD_IP=10.244.1.7", "HOST_IP=10.0.0.5")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stderr: stderr.String(), err: err, elapsed: time.Since(start)}
	if b, rerr := os.ReadFile(output); rerr == nil {
		r.out = string(b)
	}
	return r
}

func wantFile(t *testing.T, r result, lines ...string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("cairn-k8s-init failed: %v\n%s", r.err, r.stderr)
	}
	want := strings.Join(lines, "\n") + "\n"
	if r.out != want {
		t.Fatalf("runtime file:\n%s\nwant:\n%s", r.out, want)
	}
}

func TestPodAddressesNeedNoAPI(t *testing.T) {
	// No KUBECONFIG reachable is needed: pod addresses come from the downward API.
	r := runInit(t, "ns", "c-1")
	wantFile(t, r,
		`advertise-client-urls: "http://10.244.1.7:2379"`,
		`advertise-alternate-client-urls: "http://10.244.1.7:2379"`,
		`initial-advertise-peer-urls: "http://c-1.c-headless.ns.svc:2380"`,
		`initial-cluster: "c-1=http://c-1.c-headless.ns.svc:2380"`,
		`initial-cluster-state: "new"`)
}

func TestHostAddressesFromTheNode(t *testing.T) {
	ns := namespace(t)
	makeNode(t, ns+"-node", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"},
		corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.5"})
	makePod(t, ns, "c-0", ns+"-node", nil)
	r := runInit(t, ns, "c-0", "--access-type=hostExternal", "--alternate-access-type=hostInternal", "--fabric-type=hostInternal", "--tls")
	wantFile(t, r,
		`advertise-client-urls: "https://203.0.113.5:2379"`,
		`advertise-alternate-client-urls: "https://10.0.0.5:2379"`,
		`initial-advertise-peer-urls: "https://10.0.0.5:2380"`,
		`initial-cluster: "c-0=https://10.0.0.5:2380"`,
		`initial-cluster-state: "new"`)
}

func TestConfiguredIPFromMultus(t *testing.T) {
	ns := namespace(t)
	status := `[{"name":"kindnet","interface":"eth0","ips":["10.244.1.7"],"default":true},` +
		`{"name":"` + ns + `/sriov-net","interface":"net1","ips":["192.168.50.7"]},` +
		`{"name":"macvlan-net","interface":"net2","ips":["172.30.0.7"]}]`
	makePod(t, ns, "c-2", "", map[string]string{"k8s.v1.cni.cncf.io/network-status": status})
	t.Setenv("INITIAL_CLUSTER_STATE", "existing")
	t.Setenv("INITIAL_CLUSTER_MEMBERS", "c-0=http://192.168.50.5:2380,c-2=http://192.168.50.99:2380")
	r := runInit(t, ns, "c-2", "--access-type=configuredIP", "--access-network-names=sriov-net",
		"--alternate-access-type=configuredIP", "--alternate-access-network-names=macvlan-net",
		"--fabric-type=configuredIP", "--fabric-network-names=sriov-net")
	wantFile(t, r,
		`advertise-client-urls: "http://192.168.50.7:2379"`,
		`advertise-alternate-client-urls: "http://172.30.0.7:2379"`,
		`initial-advertise-peer-urls: "http://192.168.50.7:2380"`,
		`registered-peer-urls: "http://c-2.c-headless.`+ns+`.svc:2380"`,
		`initial-cluster: "c-2=http://192.168.50.7:2380,c-0=http://192.168.50.5:2380"`,
		`initial-cluster-state: "existing"`)

	r = runInit(t, ns, "c-2", "--access-type=configuredIP", "--access-network-names=absent-net")
	if r.err == nil || !strings.Contains(r.stderr, "networks present: kindnet,"+ns+"/sriov-net,macvlan-net") {
		t.Fatalf("a missing network: err %v, stderr %q; want a failure listing the networks present", r.err, r.stderr)
	}
}

func TestNodePortAlternate(t *testing.T) {
	ns := namespace(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c-0-pod", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"statefulset.kubernetes.io/pod-name": "c-0"},
			Ports: []corev1.ServicePort{{Name: "client", Port: 2379, Protocol: corev1.ProtocolTCP}}}}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	// alternateAccessType says pod; the pod Service's address wins, as in the seed's flow.
	r := runInit(t, ns, "c-0", "--pod-service-type=NodePort", "--alternate-access-type=pod")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	want := fmt.Sprintf(`advertise-alternate-client-urls: "http://10.0.0.5:%d"`, svc.Spec.Ports[0].NodePort)
	if svc.Spec.Ports[0].NodePort == 0 || !strings.Contains(r.out, want) {
		t.Fatalf("runtime file:\n%s\nwant %s", r.out, want)
	}
}

func TestLoadBalancerIPArrivingLate(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c-1-pod", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"statefulset.kubernetes.io/pod-name": "c-1"},
			Ports: []corev1.ServicePort{{Name: "client", Port: 2379, Protocol: corev1.ProtocolTCP}}}}
	if err := k8s.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	// The test plays the cloud's load balancer controller, 5 s late.
	assigned := make(chan error, 1)
	timer := time.AfterFunc(5*time.Second, func() {
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.21"}}
		assigned <- k8s.Status().Update(ctx, svc)
	})
	defer timer.Stop()
	r := runInit(t, ns, "c-1", "--pod-service-type=LoadBalancer", "--timeout=60s")
	if err := <-assigned; err != nil {
		t.Fatal(err)
	}
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.out, `advertise-alternate-client-urls: "http://198.51.100.21:2379"`) {
		t.Fatalf("runtime file:\n%s", r.out)
	}
	if r.elapsed < 5*time.Second {
		t.Fatalf("finished after %s, before the IP was assigned", r.elapsed)
	}
	t.Logf("LoadBalancer IP assigned after 5s; cairn-k8s-init finished after %s", r.elapsed.Round(time.Millisecond))
}

func TestLoadBalancerIPNeverArrives(t *testing.T) {
	ns := namespace(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c-2-pod", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"statefulset.kubernetes.io/pod-name": "c-2"},
			Ports: []corev1.ServicePort{{Name: "client", Port: 2379, Protocol: corev1.ProtocolTCP}}}}
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	const timeout = 4 * time.Second
	r := runInit(t, ns, "c-2", "--pod-service-type=LoadBalancer", "--timeout="+timeout.String())
	if r.err == nil {
		t.Fatalf("succeeded without an IP:\n%s", r.out)
	}
	if r.out != "" {
		t.Fatalf("wrote a runtime file without an address:\n%s", r.out)
	}
	if !strings.Contains(r.stderr, "no external address for c-2 within 4s") || !strings.Contains(r.stderr, "not assigned yet") {
		t.Fatalf("stderr %q does not say why", r.stderr)
	}
	// It gives up at the timeout, not long after (a margin for process start on a loaded machine).
	if r.elapsed < timeout || r.elapsed > timeout+10*time.Second {
		t.Fatalf("exited after %s with --timeout=%s", r.elapsed, timeout)
	}
	t.Logf("no LoadBalancer IP: exited non-zero after %s (--timeout=%s)", r.elapsed.Round(time.Millisecond), timeout)
}
