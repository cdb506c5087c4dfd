package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fullExample is the seed's "Full Networking Example" in Cairn's terms: service port 3000 is
// the client port 2379.
func fullExample(ns string) *cairnv1.CairnCluster {
	return &cairnv1.CairnCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "production-cluster", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{
			Size:  4,
			Image: "cairn:0.1.0",
			CairnNetworkPolicy: cairnv1.CairnNetworkPolicy{AccessType: cairnv1.AccessHostExternal,
				AlternateAccessType: cairnv1.AccessHostInternal, FabricType: cairnv1.AccessPod},
			NetworkPolicyConfig: &cairnv1.NetworkPolicyConfig{Enabled: true, Type: cairnv1.NetworkPolicyKubernetes},
			BandwidthConfig:     &cairnv1.BandwidthConfig{Ingress: "2Gbps", Egress: "1Gbps"},
			SeedsFinderServices: cairnv1.SeedsFinderServices{LoadBalancer: &cairnv1.LoadBalancerSpec{Port: 2379,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, LoadBalancerSourceRanges: []string{"10.0.0.0/8"}}},
			HeadlessService: cairnv1.HeadlessServiceSpec{Metadata: cairnv1.ServiceMetadata{
				Annotations: map[string]string{"external-dns.alpha.kubernetes.io/hostname": "cairn-headless.example.com"},
				// A user label on an operator key loses.
				Labels: map[string]string{names.LabelName: "mine", "team": "platform"}}},
			PodService: &cairnv1.PodServiceSpec{ServiceType: corev1.ServiceTypeLoadBalancer,
				Metadata: cairnv1.ServiceMetadata{Labels: map[string]string{"mesh.istio.io/managed": "true"}}},
			Monitoring: cairnv1.MonitoringSpec{Enabled: true},
		},
	}
}

func get(t *testing.T, obj client.Object, ns, name string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	})
}

func ownedBy(t *testing.T, obj client.Object, cc *cairnv1.CairnCluster) {
	t.Helper()
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == cc.UID && ref.Kind == "CairnCluster" && ref.Controller != nil && *ref.Controller &&
			ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			return
		}
	}
	t.Errorf("%T %s has no controlling owner reference to the CairnCluster: %+v", obj, obj.GetName(), obj.GetOwnerReferences())
}

func TestFullNetworkingExample(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := fullExample(ns)
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	name := cc.Name

	headless := &corev1.Service{}
	get(t, headless, ns, name+"-headless")
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("headless service: clusterIP %q publishNotReady %v", headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	if headless.Labels[names.LabelName] != "cairn" || headless.Labels["team"] != "platform" ||
		headless.Annotations["external-dns.alpha.kubernetes.io/hostname"] != "cairn-headless.example.com" {
		t.Errorf("headless metadata: labels %v annotations %v", headless.Labels, headless.Annotations)
	}
	ownedBy(t, headless, cc)

	for i := 0; i < 4; i++ {
		svc := &corev1.Service{}
		get(t, svc, ns, fmt.Sprintf("%s-%d-pod", name, i))
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Labels["mesh.istio.io/managed"] != "true" ||
			svc.Spec.Selector[names.LabelPodName] != fmt.Sprintf("%s-%d", name, i) {
			t.Errorf("pod service %s: %+v %v", svc.Name, svc.Spec, svc.Labels)
		}
		if got := portList(svc.Spec.Ports); got != "2379/TCP,2380/TCP,2381/UDP" {
			t.Errorf("pod service %s ports %s", svc.Name, got)
		}
		ownedBy(t, svc, cc)
	}

	seeds := &corev1.Service{}
	get(t, seeds, ns, name+"-seeds")
	if seeds.Spec.Type != corev1.ServiceTypeLoadBalancer || seeds.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
		!slices.Equal(seeds.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8"}) || portList(seeds.Spec.Ports) != "2379/TCP" ||
		seeds.Spec.Ports[0].TargetPort.IntValue() != 2379 {
		t.Errorf("seeds service: %+v", seeds.Spec)
	}
	ownedBy(t, seeds, cc)

	np := &networkingv1.NetworkPolicy{}
	get(t, np, ns, name)
	if got := policyRules(np); got != "2380/TCP from cluster pods; 2379/TCP,2381/UDP,2378/TCP from anywhere" {
		t.Errorf("network policy: %s", got)
	}
	ownedBy(t, np, cc)

	sts := &appsv1.StatefulSet{}
	get(t, sts, ns, name)
	ownedBy(t, sts, cc)
	tmpl := sts.Spec.Template
	if tmpl.Annotations[IngressBandwidthAnnotation] != "2G" || tmpl.Annotations[EgressBandwidthAnnotation] != "1G" {
		t.Errorf("bandwidth annotations: %v", tmpl.Annotations)
	}
	c := tmpl.Spec.Containers[0]
	if c.Ports[0].HostPort != 2379 || c.Ports[2].HostPort != 2381 || c.Ports[2].Protocol != corev1.ProtocolUDP || c.Ports[1].HostPort != 0 {
		t.Errorf("host ports: %+v", c.Ports)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != names.MetricsPortName {
		t.Errorf("readiness probe: %+v", p)
	}
	if tmpl.Spec.ServiceAccountName != name || tmpl.Spec.AutomountServiceAccountToken == nil || !*tmpl.Spec.AutomountServiceAccountToken {
		t.Errorf("service account %q automount %v", tmpl.Spec.ServiceAccountName, tmpl.Spec.AutomountServiceAccountToken)
	}
	args := strings.Join(tmpl.Spec.InitContainers[0].Args, " ")
	for _, want := range []string{"--access-type=hostExternal", "--alternate-access-type=hostInternal", "--fabric-type=pod",
		"--pod-service-type=LoadBalancer", "--timeout=120s", "--output=/etc/cairn/runtime.yaml"} {
		if !strings.Contains(args, want) {
			t.Errorf("init args %q lack %s", args, want)
		}
	}
	if sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType || sts.Spec.ServiceName != name+"-headless" {
		t.Errorf("statefulset strategy %s service %s", sts.Spec.UpdateStrategy.Type, sts.Spec.ServiceName)
	}
	// Nothing runs yet: the first member bootstraps alone, the others join one at a time.
	if *sts.Spec.Replicas != 1 {
		t.Errorf("replicas %d before the first member runs, want 1", *sts.Spec.Replicas)
	}

	for _, o := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}, &policyv1.PodDisruptionBudget{}} {
		get(t, o, ns, name)
		ownedBy(t, o, cc)
	}
	crb := &rbacv1.ClusterRoleBinding{}
	get(t, crb, "", "cairn-"+ns+"-"+name+"-nodes")
	if crb.RoleRef.Name != "cairn-node-reader" || crb.Subjects[0].Name != name || crb.Subjects[0].Namespace != ns {
		t.Errorf("cluster role binding: %+v", crb)
	}
	get(t, &rbacv1.ClusterRole{}, "", "cairn-node-reader")

	eventually(t, 20*time.Second, func() error {
		got := &cairnv1.CairnCluster{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if got.Status.Selector != names.Selector(name) || got.Status.Phase != cairnv1.PhaseInProgress || got.Status.Health != "0/4" {
			return fmt.Errorf("status %+v", got.Status)
		}
		return nil
	})

	// Deleting the CairnCluster: the finalizer removes the cluster-scoped binding, then lets go.
	if err := k8s.Delete(ctx, cc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		err := k8s.Get(ctx, client.ObjectKey{Name: "cairn-" + ns + "-" + name + "-nodes"}, &rbacv1.ClusterRoleBinding{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("cluster role binding still there: %v", err)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cc), &cairnv1.CairnCluster{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("CairnCluster still there: %v", err)
		}
		return nil
	})
}

func portList(ps []corev1.ServicePort) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
	}
	return strings.Join(out, ",")
}

func policyRules(np *networkingv1.NetworkPolicy) string {
	var rules []string
	for _, r := range np.Spec.Ingress {
		var ports []string
		for _, p := range r.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s", p.Port.String(), *p.Protocol))
		}
		from := "anywhere"
		if len(r.From) > 0 && r.From[0].PodSelector != nil && maps.Equal(r.From[0].PodSelector.MatchLabels, names.SelectorLabels(np.Name)) {
			from = "cluster pods"
		}
		rules = append(rules, strings.Join(ports, ",")+" from "+from)
	}
	return strings.Join(rules, "; ")
}

func TestSchemaRefusesBadObjects(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cases := map[string]func(*cairnv1.CairnCluster){
		"size 0":                     func(c *cairnv1.CairnCluster) { c.Spec.Size = 0 },
		"size 10":                    func(c *cairnv1.CairnCluster) { c.Spec.Size = 10 },
		"no image":                   func(c *cairnv1.CairnCluster) { c.Spec.Image = "" },
		"bandwidth 1GB":              func(c *cairnv1.CairnCluster) { c.Spec.BandwidthConfig.Ingress = "1GB" },
		"bandwidth 1.5Gbps":          func(c *cairnv1.CairnCluster) { c.Spec.BandwidthConfig.Egress = "1.5Gbps" },
		"unknown access type":        func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.AccessType = "nodeIP" },
		"configuredIP without names": func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.FabricType = cairnv1.AccessConfiguredIP },
		"alternate configuredIP no names": func(c *cairnv1.CairnCluster) {
			c.Spec.CairnNetworkPolicy.AlternateAccessType = cairnv1.AccessConfiguredIP
		},
		"policy type calico":       func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Type = "calico" },
		"pod service ExternalName": func(c *cairnv1.CairnCluster) { c.Spec.PodService.ServiceType = corev1.ServiceTypeExternalName },
		"external traffic policy Anywhere": func(c *cairnv1.CairnCluster) {
			c.Spec.SeedsFinderServices.LoadBalancer.ExternalTrafficPolicy = "Anywhere"
		},
		"seeds port 0x10000": func(c *cairnv1.CairnCluster) { c.Spec.SeedsFinderServices.LoadBalancer.Port = 65536 },
		"more racks than members": func(c *cairnv1.CairnCluster) {
			c.Spec.Size = 1
			c.Spec.Racks = []cairnv1.Rack{{ID: 1}, {ID: 2}}
		},
		"duplicate rack ids": func(c *cairnv1.CairnCluster) { c.Spec.Racks = []cairnv1.Rack{{ID: 1}, {ID: 1}} },
	}
	for name, mutate := range cases {
		cc := fullExample(ns)
		cc.Name = "bad"
		mutate(cc)
		err := k8s.Create(ctx, cc)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: got %v, want 422 Invalid", name, err)
			if err == nil {
				_ = k8s.Delete(ctx, cc)
			}
			continue
		}
		if st, ok := err.(apierrors.APIStatus); !ok || st.Status().Code != 422 {
			t.Errorf("%s: status %v, want 422", name, err)
		}
	}
	// configuredIP with its names is accepted.
	cc := fullExample(ns)
	cc.Name = "good"
	cc.Spec.CairnNetworkPolicy = cairnv1.CairnNetworkPolicy{AccessType: cairnv1.AccessConfiguredIP, CustomAccessNetworkNames: []string{"sriov"},
		FabricType: cairnv1.AccessConfiguredIP, CustomFabricNetworkNames: []string{"sriov"}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatalf("a valid configuredIP cluster was refused: %v", err)
	}
}
