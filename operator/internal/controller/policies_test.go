package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func TestPolicyRulesFollowMonitoring(t *testing.T) {
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}
	if got := policyRules(networkPolicy(cc)); got != "2380/TCP from cluster pods; 2379/TCP,2381/UDP from anywhere" {
		t.Errorf("without monitoring: %s", got)
	}
	cc.Spec.Monitoring = cairnv1.MonitoringSpec{Enabled: true, Port: 9100}
	if got := policyRules(networkPolicy(cc)); got != "2380/TCP from cluster pods; 2379/TCP,2381/UDP,9100/TCP from anywhere" {
		t.Errorf("with monitoring: %s", got)
	}
	spec := ciliumPolicy(cc).Object["spec"].(map[string]any)
	ingress := spec["ingress"].([]any)
	peer := ingress[0].(map[string]any)["toPorts"].([]any)[0].(map[string]any)["ports"].([]any)
	open := ingress[1].(map[string]any)["toPorts"].([]any)[0].(map[string]any)["ports"].([]any)
	if len(peer) != 1 || peer[0].(map[string]any)["port"] != "2380" || len(open) != 3 || open[1].(map[string]any)["protocol"] != "UDP" {
		t.Errorf("cilium rules: %v", ingress)
	}
}

func TestDisablingPolicyDeletesIt(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "pol", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:test",
			NetworkPolicyConfig: &cairnv1.NetworkPolicyConfig{Enabled: true}}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	get(t, &networkingv1.NetworkPolicy{}, ns, "pol")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Enabled = false })
	waitGone(t, &networkingv1.NetworkPolicy{}, ns, "pol")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Enabled = true })
	get(t, &networkingv1.NetworkPolicy{}, ns, "pol")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig = nil })
	waitGone(t, &networkingv1.NetworkPolicy{}, ns, "pol")
}

func waitGone(t *testing.T, obj client.Object, ns, name string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%T %s still there (%v)", obj, name, err)
	})
}

// ciliumCRD is the smallest CiliumNetworkPolicy CRD that holds the operator's objects.
func ciliumCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "ciliumnetworkpolicies.cilium.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "cilium.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "ciliumnetworkpolicies", Singular: "ciliumnetworkpolicy",
				Kind: "CiliumNetworkPolicy", ListKind: "CiliumNetworkPolicyList", ShortNames: []string{"cnp"}},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v2", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
}

func ciliumPolicyOf(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(CiliumNetworkPolicyGVK)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// Both halves in one test, in order: the CRD is cluster-wide and cannot be uninstalled for the
// other tests' sake.
func TestCiliumPolicyWithAndWithoutCRD(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "cil", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 1, Image: "cairn:test",
			NetworkPolicyConfig: &cairnv1.NetworkPolicyConfig{Enabled: true, Type: cairnv1.NetworkPolicyCilium}}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	// Without the CRD: a Warning Event, no policy of either kind, and no Error phase.
	eventually(t, 20*time.Second, func() error {
		var evs corev1.EventList
		if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == ReasonCiliumMissing && e.Type == corev1.EventTypeWarning && e.InvolvedObject.Name == "cil" {
				return nil
			}
		}
		return fmt.Errorf("no %s Warning event among %d events", ReasonCiliumMissing, len(evs.Items))
	})
	eventually(t, 20*time.Second, func() error {
		got := &cairnv1.CairnCluster{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cc), got); err != nil {
			return err
		}
		if got.Status.Phase != cairnv1.PhaseInProgress {
			return fmt.Errorf("phase %q, want InProgress (not Error)", got.Status.Phase)
		}
		return nil
	})
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cil"}, &networkingv1.NetworkPolicy{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a Kubernetes NetworkPolicy was made for type cilium: %v", err)
	}

	// With the CRD: the policy appears, as unstructured.
	if _, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{ciliumCRD()}}); err != nil {
		t.Fatal(err)
	}
	cnp := ciliumPolicyOf(ns, "cil")
	get(t, cnp, ns, "cil")
	ownedBy(t, cnp, cc)
	if sel, _, _ := unstructured.NestedStringMap(cnp.Object, "spec", "endpointSelector", "matchLabels"); sel["app.kubernetes.io/instance"] != "cil" {
		t.Errorf("endpoint selector %v", sel)
	}
	// Switching to kubernetes replaces it; disabling removes both.
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Type = cairnv1.NetworkPolicyKubernetes })
	get(t, &networkingv1.NetworkPolicy{}, ns, "cil")
	waitGone(t, ciliumPolicyOf(ns, "cil"), ns, "cil")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Type = cairnv1.NetworkPolicyCilium })
	get(t, ciliumPolicyOf(ns, "cil"), ns, "cil")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.NetworkPolicyConfig.Enabled = false })
	waitGone(t, ciliumPolicyOf(ns, "cil"), ns, "cil")
	waitGone(t, &networkingv1.NetworkPolicy{}, ns, "cil")
}
