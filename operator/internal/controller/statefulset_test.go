package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func baseCluster() *cairnv1.CairnCluster {
	return &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
		Spec: cairnv1.CairnClusterSpec{Size: 3, Image: "cairn:1"}}
}

func TestMemberArgs(t *testing.T) {
	cc := baseCluster()
	args := cairndArgs(cc, 0)
	for _, want := range []string{"--config-file=/etc/cairn/runtime.yaml", "--name=$(POD_NAME)", "--listen-client-urls=http://0.0.0.0:2379",
		"--listen-peer-urls=http://0.0.0.0:2380", "--listen-quorum-url=udp://0.0.0.0:2381", "--listen-metrics-urls=http://0.0.0.0:2378",
		"--cluster-name=c"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--rack-id") || strings.Contains(a, "cert") }) {
		t.Errorf("args without racks or TLS: %v", args)
	}
	cc.Spec.ClusterName = "prod"
	cc.Spec.TLS = &cairnv1.TLSSpec{SecretName: "tls"}
	cc.Spec.Quorum = &cairnv1.QuorumSpec{HMACKeySecretName: "q"}
	cc.Spec.Monitoring.Port = 9100
	args = cairndArgs(cc, 2)
	for _, want := range []string{"--rack-id=2", "--cluster-name=prod", "--listen-client-urls=https://0.0.0.0:2379",
		"--cert-file=/etc/cairn/tls/tls.crt", "--peer-client-cert-auth", "--peer-trusted-ca-file=/etc/cairn/tls/ca.crt",
		"--quorum-hmac-key-file=/etc/cairn/quorum/hmac-key", "--listen-metrics-urls=http://0.0.0.0:9100"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if !slices.Contains(initArgs(cc), "--tls") {
		t.Error("init step not told about TLS")
	}
}

func TestPodTemplate(t *testing.T) {
	cc := baseCluster()
	cc.Spec.Racks = []cairnv1.Rack{{ID: 1, NodeSelector: map[string]string{"zone": "a"}}, {ID: 2}}
	tmpl := podTemplate(cc, 1)
	if tmpl.Spec.NodeSelector["zone"] != "a" || tmpl.Labels[names.LabelRack] != "1" {
		t.Errorf("rack 1: selector %v labels %v", tmpl.Spec.NodeSelector, tmpl.Labels)
	}
	c := tmpl.Spec.Containers[0]
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			t.Errorf("pod access publishes host port %+v", p)
		}
	}
	if *tmpl.Spec.AutomountServiceAccountToken || tmpl.Spec.ServiceAccountName != "" {
		t.Error("pod access mounts a token it does not need")
	}
	if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTP || c.LivenessProbe.HTTPGet.Path != "/livez" {
		t.Errorf("probes %+v %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	// Liveness must not kill a member that waits its JoinTimeout for the member add.
	join, err := time.ParseDuration(JoinTimeout)
	if err != nil || !slices.Contains(c.Args, "--join-timeout="+JoinTimeout) {
		t.Errorf("args %v lack --join-timeout=%s (%v)", c.Args, JoinTimeout, err)
	}
	if sp := c.StartupProbe; sp == nil || sp.HTTPGet.Path != "/livez" ||
		time.Duration(sp.PeriodSeconds*sp.FailureThreshold)*time.Second <= join {
		t.Errorf("startup probe %+v does not outlast the join timeout %s", sp, join)
	}
	if _, ok := tmpl.Annotations[IngressBandwidthAnnotation]; ok {
		t.Error("bandwidth annotation without bandwidthConfig")
	}
	// The restart digest ignores membership; it follows the image.
	a := statefulSet(cc, 1, 1, bootstrap{State: "new"})
	b := statefulSet(cc, 1, 2, bootstrap{State: "existing", Members: "c-1-0=http://x:2380"})
	if a.Spec.Template.Annotations[ConfigHashAnnotation] != b.Spec.Template.Annotations[ConfigHashAnnotation] {
		t.Error("membership changes the restart digest")
	}
	if a.Annotations[specHashAnnotation] == b.Annotations[specHashAnnotation] {
		t.Error("membership does not reach the template")
	}
	cc.Spec.Image = "cairn:2"
	if statefulSet(cc, 1, 1, bootstrap{}).Spec.Template.Annotations[ConfigHashAnnotation] == a.Spec.Template.Annotations[ConfigHashAnnotation] {
		t.Error("a new image keeps the restart digest")
	}
	if a.Name != "c-1" || a.Spec.VolumeClaimTemplates[0].Name != DataVolume || PVCName("c-1-0") != "data-c-1-0" {
		t.Errorf("names: %s %s", a.Name, a.Spec.VolumeClaimTemplates[0].Name)
	}
}

func TestHostAccessPublishesHostPorts(t *testing.T) {
	for _, typ := range []cairnv1.AccessType{cairnv1.AccessHostInternal, cairnv1.AccessHostExternal} {
		cc := baseCluster()
		cc.Spec.CairnNetworkPolicy.AccessType = typ
		ports := podTemplate(cc, 0).Spec.Containers[0].Ports
		if ports[0].HostPort != 2379 || ports[2].HostPort != 2381 || ports[2].Protocol != corev1.ProtocolUDP || ports[1].HostPort != 0 || ports[3].HostPort != 0 {
			t.Errorf("%s: ports %+v", typ, ports)
		}
	}
}

func TestBandwidthAnnotations(t *testing.T) {
	cc := baseCluster()
	cc.Spec.BandwidthConfig = &cairnv1.BandwidthConfig{Egress: "200Mbps"}
	a := podTemplate(cc, 0).Annotations
	if a[EgressBandwidthAnnotation] != "200M" {
		t.Errorf("egress %q", a[EgressBandwidthAnnotation])
	}
	if _, ok := a[IngressBandwidthAnnotation]; ok {
		t.Error("ingress annotation without ingress")
	}
}
