package controller

import (
	"context"
	"strconv"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// CiliumNetworkPolicyGVK is the Cilium policy kind, handled as unstructured: the operator does
// not depend on Cilium's Go types, and the CRD may not be installed at all.
var CiliumNetworkPolicyGVK = schema.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy"}

// ReasonCiliumMissing is the Warning Event's reason when type cilium meets a cluster without
// the CiliumNetworkPolicy CRD.
const ReasonCiliumMissing = "CiliumNetworkPolicyCRDMissing"

func policyEnabled(cc *cairnv1.CairnCluster) (bool, cairnv1.NetworkPolicyType) {
	c := cc.Spec.NetworkPolicyConfig
	if c == nil || !c.Enabled {
		return false, ""
	}
	if c.Type == "" {
		return true, cairnv1.NetworkPolicyKubernetes
	}
	return true, c.Type
}

// networkPolicy lets the peer port in only from the cluster's own pods, and the client port,
// the quorum port (quorum queries are a client protocol) and the metrics port from anywhere.
func networkPolicy(cc *cairnv1.CairnCluster) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int32, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(p)
		return networkingv1.NetworkPolicyPort{Protocol: proto, Port: &v}
	}
	open := []networkingv1.NetworkPolicyPort{port(names.ClientPort, &tcp), port(names.QuorumPort, &udp)}
	if cc.Spec.Monitoring.Enabled {
		open = append(open, port(metricsPort(cc), &tcp))
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace, Labels: names.Labels(cc.Name)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: names.SelectorLabels(cc.Name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: names.SelectorLabels(cc.Name)}}},
					Ports: []networkingv1.NetworkPolicyPort{port(names.PeerPort, &tcp)}},
				{Ports: open},
			},
		},
	}
}

// ciliumPolicy is the same rules in Cilium's form.
func ciliumPolicy(cc *cairnv1.CairnCluster) *unstructured.Unstructured {
	sel := map[string]any{}
	for k, v := range names.SelectorLabels(cc.Name) {
		sel[k] = v
	}
	portRule := func(ports ...[2]any) map[string]any {
		var ps []any
		for _, p := range ports {
			ps = append(ps, map[string]any{"port": p[0], "protocol": p[1]})
		}
		return map[string]any{"ports": ps}
	}
	open := [][2]any{{itoa(names.ClientPort), "TCP"}, {itoa(names.QuorumPort), "UDP"}}
	if cc.Spec.Monitoring.Enabled {
		open = append(open, [2]any{itoa(metricsPort(cc)), "TCP"})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"endpointSelector": map[string]any{"matchLabels": sel},
			"ingress": []any{
				map[string]any{"fromEndpoints": []any{map[string]any{"matchLabels": copyAny(sel)}},
					"toPorts": []any{portRule([2]any{itoa(names.PeerPort), "TCP"})}},
				map[string]any{"fromEntities": []any{"all"}, "toPorts": []any{portRule(open...)}},
			},
		},
	}}
	u.SetGroupVersionKind(CiliumNetworkPolicyGVK)
	u.SetName(cc.Name)
	u.SetNamespace(cc.Namespace)
	u.SetLabels(names.Labels(cc.Name))
	return u
}

func copyAny(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }

// ciliumInstalled asks the API server's discovery whether the CiliumNetworkPolicy kind exists.
func (r *Reconciler) ciliumInstalled() (bool, error) {
	_, err := r.RESTMapper().RESTMapping(CiliumNetworkPolicyGVK.GroupKind(), CiliumNetworkPolicyGVK.Version)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	return err == nil, err
}

// reconcilePolicies makes the policy the spec asks for and deletes the one it no longer asks
// for. type cilium without Cilium's CRD is a Warning Event, not an error.
func (r *Reconciler) reconcilePolicies(ctx context.Context, cc *cairnv1.CairnCluster) error {
	enabled, typ := policyEnabled(cc)
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace}}
	if !enabled || typ != cairnv1.NetworkPolicyKubernetes {
		if err := r.remove(ctx, cc, np); err != nil {
			return err
		}
	}
	installed, err := r.ciliumInstalled()
	if err != nil {
		return err
	}
	if installed && (!enabled || typ != cairnv1.NetworkPolicyCilium) {
		cnp := &unstructured.Unstructured{}
		cnp.SetGroupVersionKind(CiliumNetworkPolicyGVK)
		cnp.SetName(cc.Name)
		cnp.SetNamespace(cc.Namespace)
		if err := r.remove(ctx, cc, cnp); err != nil {
			return err
		}
	}
	if !enabled {
		return nil
	}
	if typ == cairnv1.NetworkPolicyKubernetes {
		want := networkPolicy(cc)
		return r.apply(ctx, cc, np, func() error {
			np.Labels = names.Merge(np.Labels, want.Labels)
			np.Spec = want.Spec
			return nil
		})
	}
	if !installed {
		log.FromContext(ctx).Info("networkPolicyConfig.type is cilium but the CiliumNetworkPolicy CRD is not installed; no policy made")
		r.Recorder.Event(cc, corev1.EventTypeWarning, ReasonCiliumMissing,
			"networkPolicyConfig.type is cilium but the CiliumNetworkPolicy CRD (cilium.io/v2) is not installed; no policy made")
		return nil
	}
	want := ciliumPolicy(cc)
	cnp := &unstructured.Unstructured{}
	cnp.SetGroupVersionKind(CiliumNetworkPolicyGVK)
	cnp.SetName(cc.Name)
	cnp.SetNamespace(cc.Namespace)
	return r.apply(ctx, cc, cnp, func() error {
		cnp.SetLabels(names.Merge(cnp.GetLabels(), want.GetLabels()))
		cnp.Object["spec"] = want.Object["spec"]
		return nil
	})
}
