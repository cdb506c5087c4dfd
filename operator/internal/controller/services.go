package controller

import (
	"context"
	"slices"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func tcpPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP}
}

func memberPorts(all bool) []corev1.ServicePort {
	ports := []corev1.ServicePort{tcpPort(names.ClientPortName, names.ClientPort)}
	if all {
		ports = append(ports, tcpPort(names.PeerPortName, names.PeerPort),
			corev1.ServicePort{Name: names.QuorumPortName, Port: names.QuorumPort,
				TargetPort: intstr.FromInt32(names.QuorumPort), Protocol: corev1.ProtocolUDP})
	}
	return ports
}

// headlessService gives every pod its stable DNS name, ready or not: peers must find a member
// that is still joining.
func headlessService(cc *cairnv1.CairnCluster) *corev1.Service {
	md := cc.Spec.HeadlessService.Metadata
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: names.Headless(cc.Name), Namespace: cc.Namespace,
			Labels: names.Merge(md.Labels, names.Labels(cc.Name)), Annotations: md.Annotations},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true,
			Selector: names.SelectorLabels(cc.Name), Ports: memberPorts(true)},
	}
}

// podService is one member's own Service; ClusterIP exposes only the client port.
func podService(cc *cairnv1.CairnCluster, pod string) *corev1.Service {
	md := cc.Spec.PodService.Metadata
	t := podServiceType(cc)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: names.PodService(pod), Namespace: cc.Namespace,
			Labels: names.Merge(md.Labels, names.Labels(cc.Name)), Annotations: md.Annotations},
		Spec: corev1.ServiceSpec{Type: t, Selector: map[string]string{names.LabelPodName: pod},
			Ports: memberPorts(t != corev1.ServiceTypeClusterIP), PublishNotReadyAddresses: true},
	}
}

// seedsService is the one address external clients start from.
func seedsService(cc *cairnv1.CairnCluster) *corev1.Service {
	lb := cc.Spec.SeedsFinderServices.LoadBalancer
	port, target := lb.Port, lb.TargetPort
	if port == 0 {
		port = names.ClientPort
	}
	if target == 0 {
		target = names.ClientPort
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: names.Seeds(cc.Name), Namespace: cc.Namespace,
			Labels: names.Merge(lb.Labels, names.Labels(cc.Name)), Annotations: lb.Annotations},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: names.SelectorLabels(cc.Name),
			Ports:                    []corev1.ServicePort{{Name: names.ClientPortName, Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}},
			ExternalTrafficPolicy:    lb.ExternalTrafficPolicy,
			LoadBalancerSourceRanges: lb.LoadBalancerSourceRanges},
	}
}

// applyService makes the live Service match want in the fields the operator owns, keeping what
// the API server allocated (cluster IP, node ports).
func (r *Reconciler) applyService(ctx context.Context, cc *cairnv1.CairnCluster, want *corev1.Service) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	return r.apply(ctx, cc, svc, func() error {
		svc.Labels = names.Merge(svc.Labels, want.Labels)
		if len(want.Annotations) > 0 && svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		for k, v := range want.Annotations {
			svc.Annotations[k] = v
		}
		ports := slices.Clone(want.Spec.Ports)
		for i := range ports {
			for _, old := range svc.Spec.Ports {
				if old.Port == ports[i].Port && old.Protocol == ports[i].Protocol {
					ports[i].NodePort = old.NodePort
				}
			}
		}
		if want.Spec.ClusterIP == corev1.ClusterIPNone {
			svc.Spec.ClusterIP = corev1.ClusterIPNone
		}
		if svc.Spec.Type != want.Spec.Type && want.Spec.Type != "" {
			svc.Spec.Type = want.Spec.Type
		}
		if svc.Spec.Type == corev1.ServiceTypeClusterIP {
			for i := range ports {
				ports[i].NodePort = 0
			}
		}
		svc.Spec.Ports = ports
		svc.Spec.Selector = want.Spec.Selector
		svc.Spec.PublishNotReadyAddresses = want.Spec.PublishNotReadyAddresses
		if want.Spec.ExternalTrafficPolicy != "" {
			svc.Spec.ExternalTrafficPolicy = want.Spec.ExternalTrafficPolicy
		}
		svc.Spec.LoadBalancerSourceRanges = want.Spec.LoadBalancerSourceRanges
		return nil
	})
}

// reconcileServices makes the headless Service, one Service per member that size asks for (the
// names are known before the pods run) and the seeds load balancer, and deletes the pod
// Services above size, or all of them when podService is gone.
func (r *Reconciler) reconcileServices(ctx context.Context, cc *cairnv1.CairnCluster) error {
	if err := r.applyService(ctx, cc, headlessService(cc)); err != nil {
		return err
	}
	want := map[string]bool{}
	if cc.Spec.PodService != nil {
		for _, s := range slots(cc, cc.Spec.Size) {
			svc := podService(cc, s.Pod)
			want[svc.Name] = true
			if err := r.applyService(ctx, cc, svc); err != nil {
				return err
			}
		}
	}
	var list corev1.ServiceList
	if err := r.List(ctx, &list, client.InNamespace(cc.Namespace), client.MatchingLabels(names.SelectorLabels(cc.Name))); err != nil {
		return err
	}
	for i := range list.Items {
		svc := &list.Items[i]
		if _, isPod := svc.Spec.Selector[names.LabelPodName]; isPod && !want[svc.Name] && metav1IsControlledBy(svc, cc) {
			if err := client.IgnoreNotFound(r.Delete(ctx, svc)); err != nil {
				return err
			}
		}
	}
	seeds := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: names.Seeds(cc.Name), Namespace: cc.Namespace}}
	if cc.Spec.SeedsFinderServices.LoadBalancer == nil {
		return r.remove(ctx, cc, seeds)
	}
	return r.applyService(ctx, cc, seedsService(cc))
}
