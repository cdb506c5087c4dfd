package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestPodServicePorts(t *testing.T) {
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
		Spec: cairnv1.CairnClusterSpec{PodService: &cairnv1.PodServiceSpec{}}}
	for typ, want := range map[corev1.ServiceType]string{
		"": "2379/TCP", corev1.ServiceTypeClusterIP: "2379/TCP",
		corev1.ServiceTypeNodePort: "2379/TCP,2380/TCP,2381/UDP", corev1.ServiceTypeLoadBalancer: "2379/TCP,2380/TCP,2381/UDP",
	} {
		cc.Spec.PodService.ServiceType = typ
		svc := podService(cc, "c-0")
		if got := portList(svc.Spec.Ports); got != want {
			t.Errorf("%q: ports %s, want %s", typ, got, want)
		}
		if svc.Name != "c-0-pod" || svc.Spec.Selector[names.LabelPodName] != "c-0" || len(svc.Spec.Selector) != 1 {
			t.Errorf("%q: %s selects %v", typ, svc.Name, svc.Spec.Selector)
		}
	}
	cc.Spec.SeedsFinderServices.LoadBalancer = &cairnv1.LoadBalancerSpec{}
	if s := seedsService(cc); s.Spec.Ports[0].Port != 2379 || s.Spec.Ports[0].TargetPort.IntValue() != 2379 || s.Name != "c-seeds" {
		t.Errorf("seeds defaults: %+v", s.Spec.Ports)
	}
}

func podServices(t *testing.T, ns, cluster string) map[string]*corev1.Service {
	t.Helper()
	var list corev1.ServiceList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels(names.SelectorLabels(cluster))); err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.Service{}
	for i := range list.Items {
		if _, ok := list.Items[i].Spec.Selector[names.LabelPodName]; ok && list.Items[i].DeletionTimestamp == nil {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}

func waitPodServices(t *testing.T, ns, cluster string, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		got := podServices(t, ns, cluster)
		if len(got) != len(want) {
			return fmt.Errorf("pod services %v, want %v", keys(got), want)
		}
		for _, w := range want {
			if got[w] == nil {
				return fmt.Errorf("pod services %v, want %v", keys(got), want)
			}
		}
		return nil
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func update(t *testing.T, cc *cairnv1.CairnCluster, mutate func(*cairnv1.CairnCluster)) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		cur := &cairnv1.CairnCluster{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(cc), cur); err != nil {
			return err
		}
		mutate(cur)
		return k8s.Update(context.Background(), cur)
	})
}

func TestScaleDownRemovesPodServices(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 3, Image: "cairn:test", PodService: &cairnv1.PodServiceSpec{}}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	waitPodServices(t, ns, "svc", "svc-0-pod", "svc-1-pod", "svc-2-pod")
	if s := podServices(t, ns, "svc")["svc-0-pod"]; s.Spec.Type != corev1.ServiceTypeClusterIP || portList(s.Spec.Ports) != "2379/TCP" {
		t.Errorf("ClusterIP pod service: %s %s", s.Spec.Type, portList(s.Spec.Ports))
	}
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.Size = 1 })
	waitPodServices(t, ns, "svc", "svc-0-pod")
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.PodService = nil })
	waitPodServices(t, ns, "svc")
	// The headless service stays: it always exists.
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "svc-headless"}, &corev1.Service{}); err != nil {
		t.Fatalf("headless service: %v", err)
	}
	// A Service of the same shape that the operator does not own is left alone.
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-5-pod", Namespace: ns, Labels: names.SelectorLabels("svc")},
		Spec: corev1.ServiceSpec{Selector: map[string]string{names.LabelPodName: "svc-5"}, Ports: memberPorts(false)}}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	update(t, cc, func(c *cairnv1.CairnCluster) { c.Spec.Size = 2 })
	eventually(t, 20*time.Second, func() error {
		st := &cairnv1.CairnCluster{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cc), st); err != nil {
			return err
		}
		if st.Status.ObservedGeneration != st.Generation {
			return fmt.Errorf("status at generation %d, object at %d", st.Status.ObservedGeneration, st.Generation)
		}
		return nil
	})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), &corev1.Service{}); apierrors.IsNotFound(err) {
		t.Fatal("the operator deleted a Service it does not own")
	}
}
