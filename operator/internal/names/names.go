package names

import (
	"fmt"
	"strconv"
	"strings"
)

// The ports a member listens on; in the seed's terms 2379 is the service port, 2380 the fabric
// port and 2381/UDP the heartbeat port (quorum queries in Cairn).
const (
	ClientPort  = 2379
	PeerPort    = 2380
	QuorumPort  = 2381
	MetricsPort = 2378
)

// Port names on containers and services.
const (
	ClientPortName  = "client"
	PeerPortName    = "peer"
	QuorumPortName  = "quorum"
	MetricsPortName = "metrics"
)

// Labels the operator manages; they win over a user's labels with the same key.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelComponent = "app.kubernetes.io/component"
	LabelRack      = "cairn.io/rack"
	// LabelPodName is set by the StatefulSet controller on every pod.
	LabelPodName = "statefulset.kubernetes.io/pod-name"

	AppName   = "cairn"
	ManagedBy = "cairn-operator"
)

// Finalizer removes the cluster-scoped ClusterRoleBinding, which owner references cannot.
const Finalizer = "cairn.io/cluster-role-binding"

// NodeReaderClusterRole is the shared ClusterRole every cluster's ClusterRoleBinding points at.
const NodeReaderClusterRole = "cairn-node-reader"

// StatefulSet is the StatefulSet of a rack; rackID 0 means the cluster has no racks.
func StatefulSet(cluster string, rackID int32) string {
	if rackID == 0 {
		return cluster
	}
	return fmt.Sprintf("%s-%d", cluster, rackID)
}

// Pod is the i-th pod of a StatefulSet, as the StatefulSet controller names it.
func Pod(statefulSet string, ordinal int) string {
	return statefulSet + "-" + strconv.Itoa(ordinal)
}

// Ordinal is the index at the end of a StatefulSet pod's name.
func Ordinal(pod string) (int, error) {
	i := strings.LastIndexByte(pod, '-')
	if i < 0 {
		return 0, fmt.Errorf("pod name %q has no ordinal", pod)
	}
	digits := pod[i+1:]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("pod name %q has no ordinal", pod)
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, fmt.Errorf("pod name %q has no ordinal", pod)
	}
	return n, nil
}

// Headless is the headless service that gives every pod a stable DNS name.
func Headless(cluster string) string { return cluster + "-headless" }

// PodService is the per-member Service of a pod.
func PodService(pod string) string { return pod + "-pod" }

// Seeds is the seeds load balancer.
func Seeds(cluster string) string { return cluster + "-seeds" }

// ClusterRoleBinding binds a cluster's ServiceAccount to NodeReaderClusterRole; cluster-scoped,
// so the namespace is part of the name.
func ClusterRoleBinding(namespace, cluster string) string {
	return "cairn-" + namespace + "-" + cluster + "-nodes"
}

// PeerHost is a pod's stable name through the headless service, known before the pod exists.
func PeerHost(pod, cluster, namespace string) string {
	return pod + "." + Headless(cluster) + "." + namespace + ".svc"
}

// PeerURL is a member's peer URL with fabricType pod.
func PeerURL(scheme, pod, cluster, namespace string) string {
	return fmt.Sprintf("%s://%s:%d", scheme, PeerHost(pod, cluster, namespace), PeerPort)
}

// SelectorLabels select every member pod of a cluster.
func SelectorLabels(cluster string) map[string]string {
	return map[string]string{LabelName: AppName, LabelInstance: cluster}
}

// Labels are the operator's labels on every object it makes for a cluster.
func Labels(cluster string) map[string]string {
	l := SelectorLabels(cluster)
	l[LabelManagedBy] = ManagedBy
	return l
}

// Selector is SelectorLabels in the string form of status.selector.
func Selector(cluster string) string {
	return LabelName + "=" + AppName + "," + LabelInstance + "=" + cluster
}

// Merge returns the user's entries overlaid by the operator's: the operator wins on conflict.
func Merge(user, operator map[string]string) map[string]string {
	out := make(map[string]string, len(user)+len(operator))
	for k, v := range user {
		out[k] = v
	}
	for k, v := range operator {
		out[k] = v
	}
	return out
}

// Bandwidth turns the spec's "1Gbps" into the bandwidth CNI plugin's "1G".
func Bandwidth(rate string) (string, error) {
	v, ok := strings.CutSuffix(rate, "bps")
	if !ok || len(v) < 2 {
		return "", fmt.Errorf("bandwidth %q: want a number and K, M, G or T followed by bps, as 500Mbps", rate)
	}
	unit := v[len(v)-1]
	if !strings.ContainsRune("KMGT", rune(unit)) {
		return "", fmt.Errorf("bandwidth %q: unit must be Kbps, Mbps, Gbps or Tbps", rate)
	}
	if n, err := strconv.ParseUint(v[:len(v)-1], 10, 64); err != nil || n == 0 {
		return "", fmt.Errorf("bandwidth %q: rate must be a positive whole number", rate)
	}
	return v, nil
}
