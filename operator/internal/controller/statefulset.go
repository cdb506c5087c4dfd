package controller

import (
	"context"
	"fmt"
	"strings"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Annotations the operator sets.
const (
	// ConfigHashAnnotation on a pod is the digest of everything in its template that needs a
	// restart to change; a pod whose digest differs from its StatefulSet's is restarted.
	ConfigHashAnnotation = "cairn.io/config-hash"
	// specHashAnnotation on a StatefulSet is the digest of the template the operator last
	// wrote, so that fields the API server defaults never look like a change.
	specHashAnnotation = "cairn.io/spec-hash"

	IngressBandwidthAnnotation = "kubernetes.io/ingress-bandwidth"
	EgressBandwidthAnnotation  = "kubernetes.io/egress-bandwidth"
)

// Paths inside the member's containers.
const (
	RuntimeDir  = "/etc/cairn"
	RuntimeFile = RuntimeDir + "/runtime.yaml"
	TLSDir      = RuntimeDir + "/tls"
	QuorumDir   = RuntimeDir + "/quorum"
	DataDir     = "/var/lib/cairn"
	// DataVolume is the claim template's name; claims are "data-<pod>".
	DataVolume = "data"
	// InitTimeout is how long the init step waits for an address (a LoadBalancer IP).
	InitTimeout = "120s"
	// JoinTimeout is how long a joining member waits to find itself in the membership: the
	// operator adds it before its pod starts, but the member that answers its join may not have
	// applied the change yet, and a loaded cluster can take a while.
	JoinTimeout = "120s"
	// imageUser is the user the image's Dockerfile runs as.
	imageUser = 65532
)

// bootstrap is what a starting member needs to know about the cluster it joins; it changes
// with membership but never restarts a running member.
type bootstrap struct {
	State   string // "new" until the first member runs, then "existing"
	Members string // name=peerURL,... of the raft members
}

// PVCName is the data claim of a pod.
func PVCName(pod string) string { return DataVolume + "-" + pod }

func rackOf(cc *cairnv1.CairnCluster, id int32) cairnv1.Rack {
	for _, r := range cc.Spec.Racks {
		if r.ID == id {
			return r
		}
	}
	return cairnv1.Rack{}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
}

// cairndArgs are the member's flags; the addresses come from the init step's runtime file.
func cairndArgs(cc *cairnv1.CairnCluster, rack int32) []string {
	s := scheme(cc)
	args := []string{
		"--config-file=" + RuntimeFile,
		"--name=$(POD_NAME)",
		"--data-dir=" + DataDir + "/data",
		fmt.Sprintf("--listen-client-urls=%s://0.0.0.0:%d", s, names.ClientPort),
		fmt.Sprintf("--listen-peer-urls=%s://0.0.0.0:%d", s, names.PeerPort),
		fmt.Sprintf("--listen-quorum-url=udp://0.0.0.0:%d", names.QuorumPort),
		fmt.Sprintf("--listen-metrics-urls=http://0.0.0.0:%d", metricsPort(cc)),
		"--cluster-name=" + clusterName(cc),
		"--initial-cluster-token=" + cc.Namespace + "/" + cc.Name,
		"--join-timeout=" + JoinTimeout,
	}
	if rack != 0 {
		args = append(args, fmt.Sprintf("--rack-id=%d", rack))
	}
	if cc.Spec.TLS != nil {
		args = append(args,
			"--cert-file="+TLSDir+"/tls.crt", "--key-file="+TLSDir+"/tls.key", "--trusted-ca-file="+TLSDir+"/ca.crt",
			"--peer-cert-file="+TLSDir+"/tls.crt", "--peer-key-file="+TLSDir+"/tls.key",
			"--peer-trusted-ca-file="+TLSDir+"/ca.crt", "--peer-client-cert-auth")
	}
	if cc.Spec.Quorum != nil {
		args = append(args, "--quorum-hmac-key-file="+QuorumDir+"/hmac-key")
	}
	return args
}

// initArgs are cairn-k8s-init's flags.
func initArgs(cc *cairnv1.CairnCluster) []string {
	np := cc.Spec.CairnNetworkPolicy
	args := []string{
		"--output=" + RuntimeFile,
		"--access-type=" + string(accessType(np.AccessType)),
		"--alternate-access-type=" + string(accessType(np.AlternateAccessType)),
		"--fabric-type=" + string(accessType(np.FabricType)),
		"--headless-service=" + names.Headless(cc.Name),
		"--timeout=" + InitTimeout,
	}
	for _, f := range []struct {
		flag string
		list []string
	}{{"--access-network-names", np.CustomAccessNetworkNames},
		{"--alternate-access-network-names", np.CustomAlternateAccessNetworkNames},
		{"--fabric-network-names", np.CustomFabricNetworkNames}} {
		if len(f.list) > 0 {
			args = append(args, f.flag+"="+strings.Join(f.list, ","))
		}
	}
	if t := podServiceType(cc); t != "" {
		args = append(args, "--pod-service-type="+string(t))
	}
	if cc.Spec.TLS != nil {
		args = append(args, "--tls")
	}
	return args
}

// podTemplate is a rack's member pod, without the bootstrap environment.
func podTemplate(cc *cairnv1.CairnCluster, rack int32) corev1.PodTemplateSpec {
	labels := names.Labels(cc.Name)
	if rack != 0 {
		labels[names.LabelRack] = fmt.Sprint(rack)
	}
	annotations := map[string]string{}
	if bw := cc.Spec.BandwidthConfig; bw != nil {
		if v, err := names.Bandwidth(bw.Ingress); err == nil {
			annotations[IngressBandwidthAnnotation] = v
		}
		if v, err := names.Bandwidth(bw.Egress); err == nil {
			annotations[EgressBandwidthAnnotation] = v
		}
	}
	mport := metricsPort(cc)
	if cc.Spec.Monitoring.Enabled {
		annotations["prometheus.io/scrape"] = "true"
		annotations["prometheus.io/port"] = fmt.Sprint(mport)
	}
	ports := []corev1.ContainerPort{
		{Name: names.ClientPortName, ContainerPort: names.ClientPort, Protocol: corev1.ProtocolTCP},
		{Name: names.PeerPortName, ContainerPort: names.PeerPort, Protocol: corev1.ProtocolTCP},
		{Name: names.QuorumPortName, ContainerPort: names.QuorumPort, Protocol: corev1.ProtocolUDP},
		{Name: names.MetricsPortName, ContainerPort: mport, Protocol: corev1.ProtocolTCP},
	}
	if hostAccess(cc) {
		ports[0].HostPort = names.ClientPort
		ports[2].HostPort = names.QuorumPort
	}
	mounts := []corev1.VolumeMount{{Name: DataVolume, MountPath: DataDir}, {Name: "runtime", MountPath: RuntimeDir}}
	volumes := []corev1.Volume{{Name: "runtime", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if t := cc.Spec.TLS; t != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: TLSDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: t.SecretName}}})
	}
	if q := cc.Spec.Quorum; q != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: "quorum", MountPath: QuorumDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "quorum", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: q.HMACKeySecretName}}})
	}
	probe := func(path string, failures int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path,
			Port: intstr.FromString(names.MetricsPortName), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: failures}
	}
	api := needsAPIAccess(cc)
	spec := corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(api),
		NodeSelector:                 rackOf(cc, rack).NodeSelector,
		Tolerations:                  cc.Spec.PodSpec.Tolerations,
		Affinity:                     cc.Spec.PodSpec.Affinity,
		Volumes:                      volumes,
		InitContainers: []corev1.Container{{
			Name: "init", Image: cc.Spec.Image, Command: []string{"/cairn-k8s-init"}, Args: initArgs(cc),
			Env: []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"),
				fieldEnv("POD_IP", "status.podIP"), fieldEnv("HOST_IP", "status.hostIP")},
			VolumeMounts: []corev1.VolumeMount{{Name: "runtime", MountPath: RuntimeDir}},
		}},
		Containers: []corev1.Container{{
			Name: "cairnd", Image: cc.Spec.Image, Command: []string{"/cairnd"}, Args: cairndArgs(cc, rack),
			Env:            []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name")},
			Ports:          ports,
			Resources:      cc.Spec.Resources,
			VolumeMounts:   mounts,
			ReadinessProbe: probe("/readyz", 3),
			LivenessProbe:  probe("/livez", 6),
			// Liveness counts only once the member serves: a join waiting for its member add
			// (JoinTimeout) or a large snapshot's restore may take minutes, not 30 s.
			StartupProbe: probe("/livez", 36),
		}},
		// The image runs as 65532; the data volume must be writable by it.
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](imageUser), RunAsGroup: ptr.To[int64](imageUser),
			FSGroup: ptr.To[int64](imageUser), RunAsNonRoot: ptr.To(true)},
		// A member hands leadership away and drains on SIGTERM; give it the time.
		TerminationGracePeriodSeconds: ptr.To[int64](30),
	}
	if api {
		spec.ServiceAccountName = cc.Name
	}
	t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Spec: spec}
	t.Annotations[ConfigHashAnnotation] = hashOf(t)
	return t
}

// statefulSet is a rack's StatefulSet. Pods are replaced only when the operator deletes them
// (OnDelete), so that it restarts members one at a time, the leader last.
func statefulSet(cc *cairnv1.CairnCluster, rack int32, replicas int32, boot bootstrap) *appsv1.StatefulSet {
	tmpl := podTemplate(cc, rack)
	tmpl.Spec.InitContainers[0].Env = append(tmpl.Spec.InitContainers[0].Env,
		corev1.EnvVar{Name: "INITIAL_CLUSTER_STATE", Value: boot.State},
		corev1.EnvVar{Name: "INITIAL_CLUSTER_MEMBERS", Value: boot.Members})
	size := cc.Spec.Storage.Size
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	sel := names.SelectorLabels(cc.Name)
	if rack != 0 {
		sel[names.LabelRack] = fmt.Sprint(rack)
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: names.StatefulSet(cc.Name, rack), Namespace: cc.Namespace, Labels: names.Labels(cc.Name)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			Selector:            &metav1.LabelSelector{MatchLabels: sel},
			ServiceName:         names.Headless(cc.Name),
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			Template:            tmpl,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: DataVolume, Labels: names.Labels(cc.Name)},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: cc.Spec.Storage.StorageClassName,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}},
			}},
		},
	}
	sts.Annotations = map[string]string{specHashAnnotation: hashOf(sts.Spec.Template)}
	return sts
}

// applyStatefulSet writes the StatefulSet: the template only when the operator's own digest of
// it changed, the replicas always.
func (r *Reconciler) applyStatefulSet(ctx context.Context, cc *cairnv1.CairnCluster, want *appsv1.StatefulSet) error {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	return r.apply(ctx, cc, sts, func() error {
		sts.Labels = names.Merge(sts.Labels, want.Labels)
		sts.Spec.Replicas = want.Spec.Replicas
		if sts.CreationTimestamp.IsZero() {
			sts.Spec = want.Spec
		} else if sts.Annotations[specHashAnnotation] != want.Annotations[specHashAnnotation] {
			sts.Spec.Template = want.Spec.Template
		}
		if sts.Annotations == nil {
			sts.Annotations = map[string]string{}
		}
		sts.Annotations[specHashAnnotation] = want.Annotations[specHashAnnotation]
		return nil
	})
}
