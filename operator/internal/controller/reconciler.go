package controller

import (
	"context"
	"time"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Reconciler reconciles CairnClusters.
type Reconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	// Poll is how soon a cluster that is still changing is looked at again. Default 2s.
	Poll time.Duration
}

// +kubebuilder:rbac:groups=cairn.io,resources=cairnclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cairn.io,resources=cairnclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cairn.io,resources=cairnclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods;persistentvolumeclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings one CairnCluster one step closer to its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cc := &cairnv1.CairnCluster{}
	if err := r.Get(ctx, req.NamespacedName, cc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, cc)
	}
	if controllerutil.AddFinalizer(cc, names.Finalizer) {
		if err := r.Update(ctx, cc); err != nil {
			return ctrl.Result{}, err
		}
	}
	o, err := r.reconcileObjects(ctx, cc)
	st := buildStatus(cc, o, r.seedAddress(ctx, cc), err)
	if serr := r.writeStatus(ctx, cc, st); serr != nil && !apierrors.IsConflict(serr) {
		log.FromContext(ctx).Error(serr, "writing status")
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if st.Phase != cairnv1.PhaseCompleted {
		return ctrl.Result{RequeueAfter: r.poll()}, nil
	}
	// The members' health is not in the API server: look again now and then.
	return ctrl.Result{RequeueAfter: 10 * r.poll()}, nil
}

func (r *Reconciler) poll() time.Duration {
	if r.Poll > 0 {
		return r.Poll
	}
	return 2 * time.Second
}

func (r *Reconciler) reconcileObjects(ctx context.Context, cc *cairnv1.CairnCluster) (*observation, error) {
	for _, step := range []func(context.Context, *cairnv1.CairnCluster) error{
		r.reconcileServices, r.reconcilePolicies, r.reconcileRBAC, r.reconcilePDB,
	} {
		if err := step(ctx, cc); err != nil {
			return nil, err
		}
	}
	return r.reconcileMembership(ctx, cc)
}

// SetupWithManager watches CairnClusters, what they own, and their pods.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&cairnv1.CairnCluster{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podToCluster)).
		Complete(r)
}

// podToCluster maps a member pod to its CairnCluster through the instance label.
func podToCluster(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[names.LabelName] != names.AppName || l[names.LabelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: l[names.LabelInstance]}}}
}

// ClientOptions keep cluster-scoped and rarely read kinds out of the manager's cache: reading
// them must not start cluster-wide informers (or need list/watch on them) for a namespaced
// operator. Secrets are read only when the operator needs one, never all cached.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{
		&corev1.Node{}, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}, &corev1.PersistentVolumeClaim{},
		&corev1.Secret{},
	}}}
}
