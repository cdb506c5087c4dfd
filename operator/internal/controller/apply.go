package controller

import (
	"context"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// apply creates obj or brings it in line through mutate, with the cluster as its controlling
// owner so that deleting the CairnCluster deletes it.
func (r *Reconciler) apply(ctx context.Context, cc *cairnv1.CairnCluster, obj client.Object, mutate func() error) error {
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, obj, func() error {
		if err := mutate(); err != nil {
			return err
		}
		return controllerutil.SetControllerReference(cc, obj, r.Scheme)
	})
	return err
}

// remove deletes obj if it exists and the cluster owns it: an object of the same name made by
// someone else is left alone.
func (r *Reconciler) remove(ctx context.Context, cc *cairnv1.CairnCluster, obj client.Object) error {
	err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !metav1IsControlledBy(obj, cc) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, obj))
}

func metav1IsControlledBy(obj client.Object, cc *cairnv1.CairnCluster) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && ref.UID == cc.UID {
			return true
		}
	}
	return false
}
