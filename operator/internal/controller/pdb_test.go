package controller

import (
	"context"
	"testing"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodDisruptionBudget(t *testing.T) {
	p := podDisruptionBudget(baseCluster())
	if p.Name != "c" || p.Spec.MaxUnavailable.IntValue() != 1 || p.Spec.Selector.MatchLabels[names.LabelInstance] != "c" || p.Spec.MinAvailable != nil {
		t.Fatalf("pdb %+v", p)
	}
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "pdb", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 3, Image: "cairn:test"}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	got := &policyv1.PodDisruptionBudget{}
	get(t, got, ns, "pdb")
	if got.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("maxUnavailable %v", got.Spec.MaxUnavailable)
	}
	ownedBy(t, got, cc)
}
