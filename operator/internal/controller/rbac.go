package controller

import (
	"context"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// memberRole lets the init step read its own Pod (annotations, node) and Service (its load
// balancer's IP or node port); nothing else in the namespace.
func memberRole(cc *cairnv1.CairnCluster) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: []string{"get"}},
	}
}

// nodeReaderRules is the shared ClusterRole: nodes are cluster-scoped, so their addresses need
// a ClusterRoleBinding.
func nodeReaderRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}}
}

// reconcileRBAC gives the members an identity to read the API with, only when the init step
// needs it; otherwise it removes what an earlier spec made.
func (r *Reconciler) reconcileRBAC(ctx context.Context, cc *cairnv1.CairnCluster) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace}}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: cc.Name, Namespace: cc.Namespace}}
	if !needsAPIAccess(cc) {
		for _, o := range []client.Object{rb, role, sa} {
			if err := r.remove(ctx, cc, o); err != nil {
				return err
			}
		}
		return r.deleteClusterRoleBinding(ctx, cc)
	}
	labels := names.Labels(cc.Name)
	if err := r.apply(ctx, cc, sa, func() error {
		sa.Labels = names.Merge(sa.Labels, labels)
		return nil
	}); err != nil {
		return err
	}
	if err := r.apply(ctx, cc, role, func() error {
		role.Labels = names.Merge(role.Labels, labels)
		role.Rules = memberRole(cc)
		return nil
	}); err != nil {
		return err
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: cc.Name, Namespace: cc.Namespace}}
	if err := r.apply(ctx, cc, rb, func() error {
		rb.Labels = names.Merge(rb.Labels, labels)
		rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: cc.Name}
		rb.Subjects = subject
		return nil
	}); err != nil {
		return err
	}
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: names.NodeReaderClusterRole}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cr, func() error {
		cr.Labels = names.Merge(cr.Labels, map[string]string{names.LabelManagedBy: names.ManagedBy})
		cr.Rules = nodeReaderRules()
		return nil
	}); err != nil {
		return err
	}
	// Cluster-scoped: no owner reference can point at a namespaced CairnCluster, so the
	// finalizer removes it.
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: names.ClusterRoleBinding(cc.Namespace, cc.Name)}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, crb, func() error {
		crb.Labels = names.Merge(crb.Labels, labels)
		crb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: names.NodeReaderClusterRole}
		crb.Subjects = subject
		return nil
	})
	return err
}

func (r *Reconciler) deleteClusterRoleBinding(ctx context.Context, cc *cairnv1.CairnCluster) error {
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: names.ClusterRoleBinding(cc.Namespace, cc.Name)}}
	err := r.Delete(ctx, crb)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// finalize runs when the CairnCluster is being deleted: owner references take the namespaced
// objects, the finalizer the cluster-scoped binding.
func (r *Reconciler) finalize(ctx context.Context, cc *cairnv1.CairnCluster) error {
	if !controllerutil.ContainsFinalizer(cc, names.Finalizer) {
		return nil
	}
	if err := r.deleteClusterRoleBinding(ctx, cc); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(cc, names.Finalizer)
	return r.Update(ctx, cc)
}
