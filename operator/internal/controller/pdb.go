package controller

import (
	"context"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podDisruptionBudget lets a drain take one member at a time: raft keeps its quorum.
func podDisruptionBudget(cc *cairnv1.CairnCluster) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace, Labels: names.Labels(cc.Name)},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one,
			Selector: &metav1.LabelSelector{MatchLabels: names.SelectorLabels(cc.Name)}},
	}
}

func (r *Reconciler) reconcilePDB(ctx context.Context, cc *cairnv1.CairnCluster) error {
	want := podDisruptionBudget(cc)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	return r.apply(ctx, cc, pdb, func() error {
		pdb.Labels = names.Merge(pdb.Labels, want.Labels)
		pdb.Spec.MaxUnavailable = want.Spec.MaxUnavailable
		pdb.Spec.Selector = want.Spec.Selector
		return nil
	})
}
