package podaddr

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const multus = `[{"name":"kindnet","interface":"eth0","ips":["10.244.0.7"],"default":true},
 {"name":"cairn/sriov-net","interface":"net1","ips":["192.168.50.7"]},
 {"name":"macvlan-net","interface":"net2","ips":["172.30.0.7","fd00::7"]}]`

func TestHostTypes(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "prod-0",
		Annotations: map[string]string{NetworkStatusAnnotation: multus}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.5"},
		{Type: corev1.NodeExternalIP, Address: "203.0.113.5"}}}}
	cases := []struct {
		typ      string
		networks []string
		want     string
	}{
		{TypePod, nil, "10.244.0.7"},
		{"", nil, "10.244.0.7"},
		{TypeHostInternal, nil, "10.0.0.5"},
		{TypeHostExternal, nil, "203.0.113.5"},
		{TypeConfiguredIP, []string{"sriov-net"}, "192.168.50.7"},
		{TypeConfiguredIP, []string{"absent", "macvlan-net"}, "172.30.0.7"},
	}
	for _, c := range cases {
		got, err := Host(c.typ, pod, node, "10.244.0.7", c.networks)
		if err != nil || got != c.want {
			t.Errorf("Host(%q, %v) = %q, %v; want %q", c.typ, c.networks, got, err, c.want)
		}
	}
}

func TestHostFailures(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "prod-0",
		Annotations: map[string]string{NetworkStatusAnnotation: multus}}}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	_, err := Host(TypeConfiguredIP, pod, nil, "", []string{"nope"})
	if err == nil || !strings.Contains(err.Error(), "networks present: kindnet,cairn/sriov-net,macvlan-net") {
		t.Errorf("missing network: %v; want the networks present listed", err)
	}
	if _, err := Host(TypeConfiguredIP, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, nil, "", []string{"x"}); err == nil ||
		!strings.Contains(err.Error(), "no "+NetworkStatusAnnotation) {
		t.Errorf("no annotation: %v", err)
	}
	if _, err := Host(TypeConfiguredIP, pod, nil, "", nil); err == nil {
		t.Error("configuredIP without names accepted")
	}
	if _, err := Host(TypeHostExternal, pod, bare, "", nil); err == nil || !strings.Contains(err.Error(), "ExternalIP") {
		t.Errorf("node without ExternalIP: %v", err)
	}
	if _, err := Host(TypePod, pod, nil, "", nil); err == nil {
		t.Error("empty POD_IP accepted")
	}
	if _, err := Host("elsewhere", pod, nil, "1.2.3.4", nil); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestServiceAddress(t *testing.T) {
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "prod-0-pod"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	if _, _, err := ServiceAddress(lb, "", 2379); !errors.Is(err, ErrNotYet) {
		t.Fatalf("LB without ingress: %v, want ErrNotYet", err)
	}
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.9"}}
	if h, p, err := ServiceAddress(lb, "", 2379); err != nil || h != "198.51.100.9" || p != 2379 {
		t.Fatalf("LB: %s %d %v", h, p, err)
	}
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "prod-0-pod"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 2381, Protocol: corev1.ProtocolUDP, NodePort: 30001}, {Port: 2379, Protocol: corev1.ProtocolTCP, NodePort: 30002}}}}
	if h, p, err := ServiceAddress(np, "10.0.0.5", 2379); err != nil || h != "10.0.0.5" || p != 30002 {
		t.Fatalf("NodePort: %s %d %v", h, p, err)
	}
	if _, _, err := ServiceAddress(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}, "", 2379); err == nil {
		t.Fatal("ClusterIP accepted")
	}
}

func TestRuntimeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "runtime.yaml")
	r := Runtime{AdvertiseClientURLs: "http://10.0.0.5:2379", AdvertiseAlternateClientURLs: "http://198.51.100.9:2379",
		InitialAdvertisePeerURLs: "http://prod-1.prod-headless.ns.svc:2380",
		InitialCluster:           InitialCluster("prod-1", "http://prod-1.prod-headless.ns.svc:2380", "existing", "prod-0=http://a:2380,prod-1=http://old:2380"),
		InitialClusterState:      "existing"}
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := `advertise-client-urls: "http://10.0.0.5:2379"
advertise-alternate-client-urls: "http://198.51.100.9:2379"
initial-advertise-peer-urls: "http://prod-1.prod-headless.ns.svc:2380"
initial-cluster: "prod-1=http://prod-1.prod-headless.ns.svc:2380,prod-0=http://a:2380"
initial-cluster-state: "existing"
`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	if got := InitialCluster("prod-0", "http://x:2380", "new", "prod-1=http://y:2380"); got != "prod-0=http://x:2380" {
		t.Fatalf("a new cluster starts alone, got %s", got)
	}
}

func TestURLAndList(t *testing.T) {
	if got := URL("http", "fd00::7", 2379); got != "http://[fd00::7]:2379" {
		t.Fatal(got)
	}
	if got := SplitList(" a, ,b,a "); strings.Join(got, "|") != "a|b" {
		t.Fatal(got)
	}
}
