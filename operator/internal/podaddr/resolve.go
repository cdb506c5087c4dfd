package podaddr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NetworkStatusAnnotation is where Multus lists a pod's networks and their IPs.
const NetworkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status"

// The address types of cairnNetworkPolicy.
const (
	TypePod          = "pod"
	TypeHostInternal = "hostInternal"
	TypeHostExternal = "hostExternal"
	TypeConfiguredIP = "configuredIP"
)

// ErrNotYet means the address is not known yet (no LoadBalancer ingress so far): retry.
var ErrNotYet = errors.New("address not assigned yet")

// networkStatus is one entry of the Multus annotation.
type networkStatus struct {
	Name string   `json:"name"`
	IPs  []string `json:"ips"`
}

// NeedsNode reports whether a type is resolved from the pod's Node.
func NeedsNode(t string) bool { return t == TypeHostInternal || t == TypeHostExternal }

// Host resolves one address type for a pod: pod and host IPs come from the downward API, node
// may be nil unless NeedsNode(t), networks are the custom network names for configuredIP.
func Host(t string, pod *corev1.Pod, node *corev1.Node, podIP string, networks []string) (string, error) {
	switch t {
	case "", TypePod:
		if podIP == "" {
			return "", errors.New("pod IP unknown (POD_IP is empty)")
		}
		return podIP, nil
	case TypeHostInternal:
		return nodeAddress(node, corev1.NodeInternalIP)
	case TypeHostExternal:
		return nodeAddress(node, corev1.NodeExternalIP)
	case TypeConfiguredIP:
		return ConfiguredIP(pod, networks)
	}
	return "", fmt.Errorf("unknown address type %q (want pod, hostInternal, hostExternal or configuredIP)", t)
}

func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) (string, error) {
	if node == nil {
		return "", fmt.Errorf("no node to read the %s from", t)
	}
	for _, a := range node.Status.Addresses {
		if a.Type == t && a.Address != "" {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("node %s has no %s", node.Name, t)
}

// ConfiguredIP is the first IP of the first named network present in the pod's Multus
// network-status annotation.
func ConfiguredIP(pod *corev1.Pod, networks []string) (string, error) {
	if len(networks) == 0 {
		return "", errors.New("configuredIP needs network names")
	}
	if pod == nil {
		return "", errors.New("no pod to read the network-status annotation from")
	}
	raw, ok := pod.Annotations[NetworkStatusAnnotation]
	if !ok {
		return "", fmt.Errorf("pod %s has no %s annotation (is Multus installed?)", pod.Name, NetworkStatusAnnotation)
	}
	var st []networkStatus
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return "", fmt.Errorf("pod %s: annotation %s is not a network list: %v", pod.Name, NetworkStatusAnnotation, err)
	}
	for _, want := range networks {
		for _, n := range st {
			if (n.Name == want || shortName(n.Name) == want) && len(n.IPs) > 0 {
				return n.IPs[0], nil
			}
		}
	}
	present := make([]string, 0, len(st))
	for _, n := range st {
		present = append(present, n.Name)
	}
	return "", fmt.Errorf("pod %s has none of the networks %s in %s; networks present: %s",
		pod.Name, strings.Join(networks, ","), NetworkStatusAnnotation, strings.Join(present, ","))
}

// shortName drops the namespace Multus puts before a network attachment's name.
func shortName(n string) string {
	if i := strings.IndexByte(n, '/'); i >= 0 {
		return n[i+1:]
	}
	return n
}

// ServiceAddress is the address external clients reach a member on through its own Service:
// a LoadBalancer's ingress IP and the service port, or the host IP and the node port.
// ErrNotYet when a LoadBalancer has no ingress yet.
func ServiceAddress(svc *corev1.Service, hostIP string, port int32) (string, int32, error) {
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				return in.IP, port, nil
			}
			if in.Hostname != "" {
				return in.Hostname, port, nil
			}
		}
		return "", 0, fmt.Errorf("service %s: load balancer: %w", svc.Name, ErrNotYet)
	case corev1.ServiceTypeNodePort:
		if hostIP == "" {
			return "", 0, errors.New("host IP unknown (HOST_IP is empty)")
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == port && p.Protocol != corev1.ProtocolUDP && p.NodePort != 0 {
				return hostIP, p.NodePort, nil
			}
		}
		return "", 0, fmt.Errorf("service %s: no node port for port %d: %w", svc.Name, port, ErrNotYet)
	}
	return "", 0, fmt.Errorf("service %s is of type %s, not LoadBalancer or NodePort", svc.Name, svc.Spec.Type)
}

// URL joins a scheme, a host (IPv6 bracketed) and a port.
func URL(scheme, host string, port int32) string {
	return scheme + "://" + net.JoinHostPort(host, fmt.Sprint(port))
}

// SplitList reads a comma list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
