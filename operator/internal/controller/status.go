package controller

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/cairn-io/cairn/api"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Condition types.
const (
	ConditionReady = "Ready"
)

// hostPort is a URL's host:port, as the seed's wide output lists endpoints.
func hostPort(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Host
}

func role(m member) string {
	switch {
	case m.leader:
		return "leader"
	case m.learner:
		return "learner"
	}
	return "voter"
}

// buildStatus turns an observation into the status the API shows; err is the reconcile's error.
func buildStatus(cc *cairnv1.CairnCluster, o *observation, seed string, err error) cairnv1.CairnClusterStatus {
	st := cairnv1.CairnClusterStatus{Selector: names.Selector(cc.Name), Seed: seed,
		ObservedGeneration: cc.Generation, Conditions: cc.Status.Conditions}
	var endpoints []string
	if o != nil {
		for _, m := range o.members {
			name := m.ServerName
			if name == "" && m.slot >= 0 {
				name = names.Layout(cc.Name, rackIDs(cc), m.slot+1)[m.slot].Pod
			}
			st.Members = append(st.Members, cairnv1.MemberStatus{Name: name, ID: m.ID, Role: role(m), Status: m.Status,
				AccessEndpoint: hostPort(m.URL), AlternateEndpoint: hostPort(m.AlternateURL)})
			if m.URL != "" {
				endpoints = append(endpoints, hostPort(m.URL))
			}
			if m.Status == api.StatusOnline && podReady(o.pods[name]) {
				st.ReadyMembers++
			}
		}
	}
	if o == nil || (len(o.members) == 0 && len(cc.Status.Members) > 0) {
		// The members could not be asked: keep what was last seen rather than report none.
		st.Members = cc.Status.Members
		st.ReadyMembers = cc.Status.ReadyMembers
	}
	st.Size = int32(len(st.Members))
	if st.Size == 0 {
		st.Size = cc.Status.Size
	}
	st.Endpoints = strings.Join(endpoints, ",")
	if st.Endpoints == "" {
		st.Endpoints = cc.Status.Endpoints
	}
	st.Health = fmt.Sprintf("%d/%d", st.ReadyMembers, cc.Spec.Size)
	cond := metav1.Condition{Type: ConditionReady, ObservedGeneration: cc.Generation}
	switch {
	case err != nil:
		st.Phase = cairnv1.PhaseError
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "ReconcileError", err.Error()
	case o != nil && o.progress == "" && st.ReadyMembers == cc.Spec.Size:
		st.Phase = cairnv1.PhaseCompleted
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "Completed", "every member is online and ready"
	default:
		st.Phase = cairnv1.PhaseInProgress
		cond.Status, cond.Reason = metav1.ConditionFalse, "InProgress"
		if o != nil {
			cond.Message = o.progress
		}
		if cond.Message == "" {
			cond.Message = fmt.Sprintf("%d of %d members ready", st.ReadyMembers, cc.Spec.Size)
		}
	}
	conds := append([]metav1.Condition(nil), cc.Status.Conditions...)
	meta.SetStatusCondition(&conds, cond)
	st.Conditions = conds
	return st
}

// seedAddress is the seeds load balancer's ip:port once it has one.
func (r *Reconciler) seedAddress(ctx context.Context, cc *cairnv1.CairnCluster) string {
	lb := cc.Spec.SeedsFinderServices.LoadBalancer
	if lb == nil {
		return ""
	}
	svc := &corev1.Service{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: names.Seeds(cc.Name)}, svc); err != nil {
		return ""
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		host := in.IP
		if host == "" {
			host = in.Hostname
		}
		if host != "" && len(svc.Spec.Ports) > 0 {
			return net.JoinHostPort(host, fmt.Sprint(svc.Spec.Ports[0].Port))
		}
	}
	return ""
}

func (r *Reconciler) writeStatus(ctx context.Context, cc *cairnv1.CairnCluster, st cairnv1.CairnClusterStatus) error {
	if equalStatus(cc.Status, st) {
		return nil
	}
	cc.Status = st
	return r.Status().Update(ctx, cc)
}

// equalStatus ignores condition timestamps, which change on every write.
func equalStatus(a, b cairnv1.CairnClusterStatus) bool {
	strip := func(s cairnv1.CairnClusterStatus) string {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		return hashOf(s)
	}
	return strip(a) == strip(b)
}
