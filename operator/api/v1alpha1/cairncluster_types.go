package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessType says which address a member advertises for one kind of traffic.
// +kubebuilder:validation:Enum=pod;hostInternal;hostExternal;configuredIP
type AccessType string

// The address sources of cairnNetworkPolicy.
const (
	AccessPod          AccessType = "pod"
	AccessHostInternal AccessType = "hostInternal"
	AccessHostExternal AccessType = "hostExternal"
	AccessConfiguredIP AccessType = "configuredIP"
)

// NetworkPolicyType picks the kind of policy object the operator writes.
// +kubebuilder:validation:Enum=kubernetes;cilium
type NetworkPolicyType string

// The policy kinds.
const (
	NetworkPolicyKubernetes NetworkPolicyType = "kubernetes"
	NetworkPolicyCilium     NetworkPolicyType = "cilium"
)

// Phase is the cluster's reconciling state.
type Phase string

// The phases.
const (
	PhaseInProgress Phase = "InProgress"
	PhaseCompleted  Phase = "Completed"
	PhaseError      Phase = "Error"
)

// CairnNetworkPolicy says how members advertise their client, alternate and peer addresses.
// +kubebuilder:validation:XValidation:rule="!has(self.accessType) || self.accessType != 'configuredIP' || (has(self.customAccessNetworkNames) && size(self.customAccessNetworkNames) > 0)",message="accessType configuredIP needs customAccessNetworkNames"
// +kubebuilder:validation:XValidation:rule="!has(self.alternateAccessType) || self.alternateAccessType != 'configuredIP' || (has(self.customAlternateAccessNetworkNames) && size(self.customAlternateAccessNetworkNames) > 0)",message="alternateAccessType configuredIP needs customAlternateAccessNetworkNames"
// +kubebuilder:validation:XValidation:rule="!has(self.fabricType) || self.fabricType != 'configuredIP' || (has(self.customFabricNetworkNames) && size(self.customFabricNetworkNames) > 0)",message="fabricType configuredIP needs customFabricNetworkNames"
type CairnNetworkPolicy struct {
	// AccessType is the address clients reach the client port (2379) on.
	// +kubebuilder:default=pod
	// +optional
	AccessType AccessType `json:"accessType,omitempty"`
	// AlternateAccessType is the address clients on another network use (UsingServicesAlternate).
	// +kubebuilder:default=pod
	// +optional
	AlternateAccessType AccessType `json:"alternateAccessType,omitempty"`
	// FabricType is the address members reach each other's peer port (2380) on.
	// +kubebuilder:default=pod
	// +optional
	FabricType AccessType `json:"fabricType,omitempty"`
	// CustomAccessNetworkNames are the Multus networks to take the access address from.
	// +optional
	CustomAccessNetworkNames []string `json:"customAccessNetworkNames,omitempty"`
	// CustomAlternateAccessNetworkNames are the Multus networks for the alternate address.
	// +optional
	CustomAlternateAccessNetworkNames []string `json:"customAlternateAccessNetworkNames,omitempty"`
	// CustomFabricNetworkNames are the Multus networks for the peer address.
	// +optional
	CustomFabricNetworkNames []string `json:"customFabricNetworkNames,omitempty"`
}

// NetworkPolicyConfig asks for a NetworkPolicy (or CiliumNetworkPolicy) around the members.
type NetworkPolicyConfig struct {
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// +kubebuilder:default=kubernetes
	// +optional
	Type NetworkPolicyType `json:"type,omitempty"`
}

// BandwidthConfig limits each member's traffic through the bandwidth CNI plugin's annotations.
type BandwidthConfig struct {
	// Ingress is a rate such as "1Gbps" or "500Mbps".
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]*[KMGT]bps$`
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// Egress is a rate such as "1Gbps" or "500Mbps".
	// +kubebuilder:validation:Pattern=`^[1-9][0-9]*[KMGT]bps$`
	// +optional
	Egress string `json:"egress,omitempty"`
}

// LoadBalancerSpec is the seeds load balancer: one address external clients start from.
type LoadBalancerSpec struct {
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +kubebuilder:validation:Enum=Cluster;Local
	// +optional
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
	// +kubebuilder:default=2379
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// +kubebuilder:default=2379
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	TargetPort int32 `json:"targetPort,omitempty"`
	// +optional
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
}

// SeedsFinderServices holds the services that help clients find the cluster.
type SeedsFinderServices struct {
	// +optional
	LoadBalancer *LoadBalancerSpec `json:"loadBalancer,omitempty"`
}

// ServiceMetadata is extra metadata for a service the operator makes.
type ServiceMetadata struct {
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// HeadlessServiceSpec decorates the headless service, which always exists.
type HeadlessServiceSpec struct {
	// +optional
	Metadata ServiceMetadata `json:"metadata,omitempty"`
}

// PodServiceSpec asks for one Service per member.
type PodServiceSpec struct {
	// +optional
	Metadata ServiceMetadata `json:"metadata,omitempty"`
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +kubebuilder:default=ClusterIP
	// +optional
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`
}

// Rack is one failure domain: members on it run with --rack-id and the rack's node selector.
type Rack struct {
	// ID is the member's --rack-id.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	ID int32 `json:"id"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// StorageSpec is each member's data volume.
type StorageSpec struct {
	// +kubebuilder:default="1Gi"
	// +optional
	Size resource.Quantity `json:"size,omitempty"`
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// PodSpecExtras are scheduling settings copied into every member's pod.
type PodSpecExtras struct {
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
}

// TLSSpec names the Secret (ca.crt, tls.crt, tls.key) for the client and peer ports.
type TLSSpec struct {
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`
}

// AuthSpec names the Secret (key "password") holding root's password, used for member changes.
type AuthSpec struct {
	// +kubebuilder:validation:MinLength=1
	RootSecretName string `json:"rootSecretName"`
}

// QuorumSpec names the Secret (key "hmac-key") that opens the UDP quorum port.
type QuorumSpec struct {
	// +kubebuilder:validation:MinLength=1
	HMACKeySecretName string `json:"hmacKeySecretName"`
}

// MonitoringSpec is the plain-HTTP metrics listener (/metrics, /readyz, /livez).
type MonitoringSpec struct {
	// Enabled opens the port in the network policy and marks pods for scraping; the listener
	// always runs, because the probes use it.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
	// +kubebuilder:default=2378
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
}

// CairnClusterSpec is the cluster a user asks for.
// +kubebuilder:validation:XValidation:rule="!has(self.racks) || size(self.racks) <= self.size",message="racks must not outnumber size"
type CairnClusterSpec struct {
	// Size is the number of members.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	Size int32 `json:"size"`
	// Image holds cairnd and cairn-k8s-init.
	// +kubebuilder:validation:MinLength=1
	Image string `json:"image"`
	// ClusterName is cairnd's --cluster-name; the object's name when empty.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ClusterName string `json:"clusterName,omitempty"`
	// +listType=map
	// +listMapKey=id
	// +kubebuilder:validation:MaxItems=9
	// +optional
	Racks []Rack `json:"racks,omitempty"`
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	PodSpec PodSpecExtras `json:"podSpec,omitempty"`
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
	// +optional
	Auth *AuthSpec `json:"auth,omitempty"`
	// +optional
	Quorum *QuorumSpec `json:"quorum,omitempty"`
	// +optional
	Monitoring MonitoringSpec `json:"monitoring,omitempty"`
	// +optional
	CairnNetworkPolicy CairnNetworkPolicy `json:"cairnNetworkPolicy,omitempty"`
	// +optional
	NetworkPolicyConfig *NetworkPolicyConfig `json:"networkPolicyConfig,omitempty"`
	// +optional
	BandwidthConfig *BandwidthConfig `json:"bandwidthConfig,omitempty"`
	// +optional
	SeedsFinderServices SeedsFinderServices `json:"seedsFinderServices,omitempty"`
	// +optional
	HeadlessService HeadlessServiceSpec `json:"headlessService,omitempty"`
	// +optional
	PodService *PodServiceSpec `json:"podService,omitempty"`
}

// MemberStatus is one raft member as the operator last saw it.
type MemberStatus struct {
	Name string `json:"name"`
	// +optional
	ID string `json:"id,omitempty"`
	// Role is leader, voter or learner.
	// +optional
	Role string `json:"role,omitempty"`
	// Status is the member's Online, Offline, Evacuated or Blocked.
	// +optional
	Status string `json:"status,omitempty"`
	// +optional
	AccessEndpoint string `json:"accessEndpoint,omitempty"`
	// +optional
	AlternateEndpoint string `json:"alternateEndpoint,omitempty"`
}

// CairnClusterStatus is what the operator observed.
type CairnClusterStatus struct {
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Size is the number of members in the raft configuration.
	// +optional
	Size int32 `json:"size,omitempty"`
	// +optional
	ReadyMembers int32 `json:"readyMembers,omitempty"`
	// Health is ready/size, as "3/3".
	// +optional
	Health string `json:"health,omitempty"`
	// Seed is the seeds load balancer's ip:port.
	// +optional
	Seed string `json:"seed,omitempty"`
	// Endpoints are the members' access endpoints, comma-joined.
	// +optional
	Endpoints string `json:"endpoints,omitempty"`
	// +optional
	Members []MemberStatus `json:"members,omitempty"`
	// Selector is the label selector of the members' pods (for the scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// CairnCluster is a Cairn cluster run by the operator.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=cairn
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.size,statuspath=.status.size,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="SIZE",type=integer,JSONPath=`.spec.size`
// +kubebuilder:printcolumn:name="HEALTH",type=string,JSONPath=`.status.health`
// +kubebuilder:printcolumn:name="PHASE",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="SEED",type=string,JSONPath=`.status.seed`
// +kubebuilder:printcolumn:name="ENDPOINTS",type=string,JSONPath=`.status.endpoints`,priority=1
type CairnCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CairnClusterSpec   `json:"spec,omitempty"`
	Status CairnClusterStatus `json:"status,omitempty"`
}

// CairnClusterList is a list of CairnClusters.
// +kubebuilder:object:root=true
type CairnClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CairnCluster `json:"items"`
}
