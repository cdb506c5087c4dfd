package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
)

// The spec's defaults, applied in code as well as in the schema so that an object read before
// the schema defaulted it (or built in a test) means the same.

func clusterName(cc *cairnv1.CairnCluster) string {
	if cc.Spec.ClusterName != "" {
		return cc.Spec.ClusterName
	}
	return cc.Name
}

func metricsPort(cc *cairnv1.CairnCluster) int32 {
	if cc.Spec.Monitoring.Port != 0 {
		return cc.Spec.Monitoring.Port
	}
	return names.MetricsPort
}

func scheme(cc *cairnv1.CairnCluster) string {
	if cc.Spec.TLS != nil {
		return "https"
	}
	return "http"
}

func accessType(t cairnv1.AccessType) cairnv1.AccessType {
	if t == "" {
		return cairnv1.AccessPod
	}
	return t
}

func podServiceType(cc *cairnv1.CairnCluster) corev1.ServiceType {
	if cc.Spec.PodService == nil {
		return ""
	}
	if cc.Spec.PodService.ServiceType == "" {
		return corev1.ServiceTypeClusterIP
	}
	return cc.Spec.PodService.ServiceType
}

// externalPodService is true when each member's own Service gives it an external address.
func externalPodService(cc *cairnv1.CairnCluster) bool {
	t := podServiceType(cc)
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// hostAccess is true when members publish their client and quorum ports on the node.
func hostAccess(cc *cairnv1.CairnCluster) bool {
	t := accessType(cc.Spec.CairnNetworkPolicy.AccessType)
	return t == cairnv1.AccessHostInternal || t == cairnv1.AccessHostExternal
}

// needsAPIAccess is true when the init step must read Services, Pods or Nodes.
func needsAPIAccess(cc *cairnv1.CairnCluster) bool {
	if externalPodService(cc) {
		return true
	}
	np := cc.Spec.CairnNetworkPolicy
	for _, t := range []cairnv1.AccessType{np.AccessType, np.AlternateAccessType, np.FabricType} {
		if accessType(t) != cairnv1.AccessPod {
			return true
		}
	}
	return false
}

func fabricIsPod(cc *cairnv1.CairnCluster) bool {
	return accessType(cc.Spec.CairnNetworkPolicy.FabricType) == cairnv1.AccessPod
}

func rackIDs(cc *cairnv1.CairnCluster) []int32 {
	ids := make([]int32, 0, len(cc.Spec.Racks))
	for _, r := range cc.Spec.Racks {
		ids = append(ids, r.ID)
	}
	return ids
}

func slots(cc *cairnv1.CairnCluster, size int32) []names.Slot {
	return names.Layout(cc.Name, rackIDs(cc), int(size))
}

// hashOf is a short stable digest of v's JSON.
func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
