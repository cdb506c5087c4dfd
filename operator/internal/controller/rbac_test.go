package controller

import (
	"context"
	"testing"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWhoNeedsAPIAccess(t *testing.T) {
	cases := []struct {
		name string
		set  func(*cairnv1.CairnCluster)
		want bool
	}{
		{"pod everywhere", func(*cairnv1.CairnCluster) {}, false},
		{"ClusterIP pod services", func(c *cairnv1.CairnCluster) { c.Spec.PodService = &cairnv1.PodServiceSpec{} }, false},
		{"NodePort", func(c *cairnv1.CairnCluster) {
			c.Spec.PodService = &cairnv1.PodServiceSpec{ServiceType: corev1.ServiceTypeNodePort}
		}, true},
		{"LoadBalancer", func(c *cairnv1.CairnCluster) {
			c.Spec.PodService = &cairnv1.PodServiceSpec{ServiceType: corev1.ServiceTypeLoadBalancer}
		}, true},
		{"hostInternal", func(c *cairnv1.CairnCluster) {
			c.Spec.CairnNetworkPolicy.AlternateAccessType = cairnv1.AccessHostInternal
		}, true},
		{"hostExternal", func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.AccessType = cairnv1.AccessHostExternal }, true},
		{"configuredIP", func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.FabricType = cairnv1.AccessConfiguredIP }, true},
	}
	for _, c := range cases {
		cc := baseCluster()
		c.set(cc)
		if got := needsAPIAccess(cc); got != c.want {
			t.Errorf("%s: needsAPIAccess %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRBACFollowsTheSpec: a pod-only cluster has no ServiceAccount or bindings; switching to
// host access makes them, switching back removes them, the cluster-scoped one included.
func TestRBACFollowsTheSpec(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "rb", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:test"}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	get(t, &corev1.Service{}, ns, "rb-headless")
	waitGone(t, &corev1.ServiceAccount{}, ns, "rb")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.AccessType = cairnv1.AccessHostInternal })
	get(t, &corev1.ServiceAccount{}, ns, "rb")
	role := &rbacv1.Role{}
	get(t, role, ns, "rb")
	if len(role.Rules) != 1 || role.Rules[0].Verbs[0] != "get" {
		t.Errorf("role rules %+v: read only", role.Rules)
	}
	get(t, &rbacv1.RoleBinding{}, ns, "rb")
	get(t, &rbacv1.ClusterRoleBinding{}, "", "cairn-"+ns+"-rb-nodes")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.CairnNetworkPolicy.AccessType = cairnv1.AccessPod })
	waitGone(t, &rbacv1.ClusterRoleBinding{}, "", "cairn-"+ns+"-rb-nodes")
	waitGone(t, &rbacv1.RoleBinding{}, ns, "rb")
	waitGone(t, &rbacv1.Role{}, ns, "rb")
	waitGone(t, &corev1.ServiceAccount{}, ns, "rb")
}
