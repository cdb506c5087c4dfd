package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
	cairn "github.com/cairn-io/cairn/client"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	"github.com/cairn-io/cairn/operator/internal/podaddr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// maxLag is how many entries a member may trail the leader by and count as caught up (a
// writer keeps the leader moving while the operator looks).
const maxLag = 1000

// member is one raft member as the operator reasons about it.
type member struct {
	cairn.Member
	slot    int // index in the cluster's layout; -1 when it matches none
	learner bool
	leader  bool
}

// observation is what one look at the cluster found.
type observation struct {
	members []member // sorted by slot
	pods    map[string]*corev1.Pod
	sets    map[string]*appsv1.StatefulSet
	// progress says what the operator is waiting for; empty when the cluster is as specified.
	progress string
}

func (o *observation) leader() *member {
	for i := range o.members {
		if o.members[i].leader {
			return &o.members[i]
		}
	}
	return nil
}

func (o *observation) caughtUp(m member) bool {
	l := o.leader()
	return l != nil && m.Status == api.StatusOnline && m.AppliedIndex > 0 && m.AppliedIndex+maxLag >= l.AppliedIndex
}

// slotIndex maps a pod name to its position in the layout (racks in turn).
func slotIndex(cc *cairnv1.CairnCluster) map[string]int {
	out := map[string]int{}
	for _, s := range names.Layout(cc.Name, rackIDs(cc), 9*max(1, len(cc.Spec.Racks))) {
		out[s.Pod] = s.Index
	}
	return out
}

func (r *Reconciler) observe(ctx context.Context, cc *cairnv1.CairnCluster) (*observation, error) {
	o := &observation{pods: map[string]*corev1.Pod{}, sets: map[string]*appsv1.StatefulSet{}}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(cc.Namespace), client.MatchingLabels(names.SelectorLabels(cc.Name))); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		o.pods[pods.Items[i].Name] = &pods.Items[i]
	}
	var sets appsv1.StatefulSetList
	if err := r.List(ctx, &sets, client.InNamespace(cc.Namespace), client.MatchingLabels(names.SelectorLabels(cc.Name))); err != nil {
		return nil, err
	}
	for i := range sets.Items {
		if metav1IsControlledBy(&sets.Items[i], cc) {
			o.sets[sets.Items[i].Name] = &sets.Items[i]
		}
	}
	return o, nil
}

// connect reaches the members through their pods' IPs with the project's SDK, with the TLS
// and root credentials the spec names.
func (r *Reconciler) connect(ctx context.Context, cc *cairnv1.CairnCluster, o *observation) (*cairn.Cluster, error) {
	var hosts []cairn.Host
	for _, p := range o.pods {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			hosts = append(hosts, cairn.NewHost(p.Status.PodIP, names.ClientPort))
		}
	}
	if len(hosts) == 0 {
		return nil, errNoMemberRunning
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	def, err := r.definition(ctx, cc, hosts, memberTLSName(cc))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return def.WithSystemSettings(cairn.SystemSettings{Timeout: 2 * time.Second}).Connect(cctx)
}

var errNoMemberRunning = errors.New("no member pod is running yet")

// readMembers lists the raft members and places each in the layout: by the name a member
// published, by the stable peer URL it was registered under, or by the fabric peer URL its pod
// resolves to (fabric, which a member sets itself on joining, before it publishes its name).
func readMembers(ctx context.Context, cc *cairnv1.CairnCluster, cl *cairn.Cluster, fabric map[string]int) ([]member, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	all, err := cl.Members().All(cctx)
	if err != nil {
		return nil, err
	}
	idx := slotIndex(cc)
	byPeer := map[string]int{}
	for pod, i := range idx {
		byPeer[names.PeerURL(scheme(cc), pod, cc.Name, cc.Namespace)] = i
	}
	for u, i := range fabric {
		byPeer[u] = i
	}
	out := make([]member, 0, len(all))
	for _, m := range all {
		x := member{Member: m, slot: -1, learner: slices.Contains(m.Roles, api.RoleStandby) || !m.Database,
			leader: slices.Contains(m.Roles, api.RoleLeader)}
		if i, ok := idx[m.ServerName]; ok {
			x.slot = i
		} else if i, ok := byPeer[m.PeerURL]; ok {
			x.slot = i
		}
		out = append(out, x)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].slot < out[j].slot })
	return out, nil
}

// reconcileMembership moves the raft membership and the StatefulSets one step towards the spec:
// at most one member change, or one restart, per pass.
func (r *Reconciler) reconcileMembership(ctx context.Context, cc *cairnv1.CairnCluster) (*observation, error) {
	o, err := r.observe(ctx, cc)
	if err != nil {
		return nil, err
	}
	want := slots(cc, cc.Spec.Size)
	cl, err := r.connect(ctx, cc, o)
	if errors.Is(err, errNoMemberRunning) || (err != nil && len(o.sets) == 0) {
		// Nothing runs yet: the first member bootstraps alone, the others join one by one.
		o.progress = "waiting for the first member to start"
		if !bootstrapped(cc) {
			return o, r.applyStatefulSets(ctx, cc, o, want[:1], bootstrap{State: "new"})
		}
		return o, r.applyStatefulSets(ctx, cc, o, runningSlots(o, want), bootstrap{State: "existing"})
	}
	if err != nil {
		o.progress = "members unreachable: " + err.Error()
		return o, nil
	}
	defer cl.Close()
	if o.members, err = readMembers(ctx, cc, cl, r.fabricPeerURLs(ctx, cc, o)); err != nil {
		o.progress = "reading members: " + err.Error()
		return o, nil
	}
	mem := cl.Members()
	step, err := r.step(ctx, cc, o, mem, want)
	if err != nil {
		return o, err
	}
	o.progress = step
	run := runSlots(cc, o)
	if err := r.applyStatefulSets(ctx, cc, o, run, bootstrap{State: "existing", Members: peerList(o.members)}); err != nil {
		return o, err
	}
	return o, r.deleteOrphanClaims(ctx, cc, o, run)
}

const stepStarting = "starting "

// step decides and makes the one change this pass makes; it describes what the cluster waits for.
func (r *Reconciler) step(ctx context.Context, cc *cairnv1.CairnCluster, o *observation, mem *cairn.Members, want []names.Slot) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	logger := log.FromContext(ctx)
	// A learner is promoted once caught up; until then nothing else changes.
	for _, m := range o.members {
		if !m.learner {
			continue
		}
		if m.slot < 0 || m.slot >= len(want) {
			break // a learner the spec no longer wants is removed below
		}
		if m.ServerName == "" || !o.caughtUp(m) {
			return fmt.Sprintf("%s%s: catching up as a learner", stepStarting, want[m.slot].Pod), nil
		}
		logger.Info("promoting learner", "member", m.ServerName, "id", m.ID)
		if err := mem.PromoteID(cctx, m.ID); err != nil {
			return "promoting " + m.ServerName + ": " + err.Error(), nil
		}
		return "promoted " + m.ServerName, nil
	}
	// Shrink: the highest index leaves raft first; its pod and claim go after.
	if last := o.members[len(o.members)-1]; len(o.members) > len(want) || last.slot >= len(want) || last.slot < 0 {
		if last.leader && len(o.members) > 1 {
			logger.Info("handing leadership away before removal", "member", last.ServerName)
			if err := mem.Evacuate(cctx, last.ServerName); err != nil {
				return "evacuating " + last.ServerName + ": " + err.Error(), nil
			}
			return "evacuated " + last.ServerName, nil
		}
		logger.Info("removing member", "member", last.ServerName, "id", last.ID)
		if err := mem.RemoveID(cctx, last.ID); err != nil && !errors.Is(err, cairn.ErrMemberNotFound) {
			return "removing " + last.ServerName + ": " + err.Error(), nil
		}
		o.members = o.members[:len(o.members)-1]
		return "removed " + last.ServerName, nil
	}
	// Every member must be online and caught up before the next change.
	for _, m := range o.members {
		if m.slot < 0 {
			return fmt.Sprintf("member %s (%s, peer %s) matches no pod of this cluster", m.ServerName, m.ID, m.PeerURL), nil
		}
		if m.Status == api.StatusEvacuated {
			continue // being restarted: restartStep carries on with it
		}
		if !o.caughtUp(m) {
			return fmt.Sprintf("waiting for %s to be online and caught up", want[m.slot].Pod), nil
		}
	}
	// Grow: one learner at a time, before its pod starts. With a fabric address known only once
	// the pod runs, the stable name is a placeholder the member replaces itself on joining
	// (its init step passes --registered-peer-urls).
	if len(o.members) < len(want) {
		next := want[len(o.members)]
		peer := names.PeerURL(scheme(cc), next.Pod, cc.Name, cc.Namespace)
		logger.Info("adding learner", "member", next.Pod, "peer", peer)
		added, err := mem.Add(cctx, []string{peer}, true)
		if err != nil {
			return "adding " + next.Pod + ": " + err.Error(), nil
		}
		// Its pod starts now, in this pass; a learner already in raft has its pod anyway.
		o.members = append(o.members, member{Member: added, slot: next.Index, learner: true})
		return stepStarting + next.Pod, nil
	}
	return r.restartStep(cctx, cc, o, mem, want)
}

// restartStep restarts the first member whose pod runs an outdated template, the leader last,
// after handing its leadership away; an evacuated member back on the new template is restored.
func (r *Reconciler) restartStep(ctx context.Context, cc *cairnv1.CairnCluster, o *observation, mem *cairn.Members, want []names.Slot) (string, error) {
	logger := log.FromContext(ctx)
	for _, m := range o.members {
		if m.Status == api.StatusEvacuated && podCurrent(cc, o, want[m.slot]) && podReady(o.pods[want[m.slot].Pod]) {
			logger.Info("restoring restarted member", "member", m.ServerName)
			if err := mem.Restore(ctx, m.ServerName); err != nil {
				return "restoring " + m.ServerName + ": " + err.Error(), nil
			}
			return "restored " + m.ServerName, nil
		}
	}
	for _, s := range want {
		if p := o.pods[s.Pod]; p == nil || !podReady(p) {
			return "waiting for pod " + s.Pod + " to be ready", nil
		}
	}
	var target *member
	for i := range o.members {
		m := &o.members[i]
		if !podCurrent(cc, o, want[m.slot]) && (target == nil || target.leader) {
			target = m
		}
	}
	if target == nil {
		return "", nil
	}
	slot := want[target.slot]
	pod := o.pods[slot.Pod]
	if !setCurrent(cc, o, slot) {
		// A pod deleted now could come back on the old template: the StatefulSet is written
		// after this step, and the pod is deleted on the next pass.
		return "updating StatefulSet " + slot.StatefulSet + " before restarting " + pod.Name, nil
	}
	if target.leader {
		logger.Info("handing leadership away before restart", "member", target.ServerName)
		if err := mem.Evacuate(ctx, target.ServerName); err != nil {
			return "evacuating " + target.ServerName + ": " + err.Error(), nil
		}
		return "evacuated " + target.ServerName + " for its restart", nil
	}
	logger.Info("restarting member on the new template", "pod", pod.Name)
	if err := r.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
		return "", err
	}
	return "restarting " + pod.Name, nil
}

// podCurrent is true when a slot's pod runs its StatefulSet's current template.
func podCurrent(cc *cairnv1.CairnCluster, o *observation, s names.Slot) bool {
	p := o.pods[s.Pod]
	if p == nil || p.DeletionTimestamp != nil {
		return false
	}
	return p.Annotations[ConfigHashAnnotation] == podTemplate(cc, s.Rack).Annotations[ConfigHashAnnotation]
}

// setCurrent is true when a slot's StatefulSet already holds the current template, so that the
// pod its controller makes again after a deletion runs it.
func setCurrent(cc *cairnv1.CairnCluster, o *observation, s names.Slot) bool {
	sts := o.sets[s.StatefulSet]
	return sts != nil && sts.Spec.Template.Annotations[ConfigHashAnnotation] == podTemplate(cc, s.Rack).Annotations[ConfigHashAnnotation]
}

func podReady(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fabricPeerURLs maps the peer URL each running pod resolves to with a fabricType other than
// pod (computed as its init step does) to its slot; nil with fabricType pod.
func (r *Reconciler) fabricPeerURLs(ctx context.Context, cc *cairnv1.CairnCluster, o *observation) map[string]int {
	if fabricIsPod(cc) {
		return nil
	}
	np := cc.Spec.CairnNetworkPolicy
	idx := slotIndex(cc)
	out := map[string]int{}
	for name, pod := range o.pods {
		i, ok := idx[name]
		if !ok || pod.Status.PodIP == "" {
			continue
		}
		var node *corev1.Node
		if podaddr.NeedsNode(string(np.FabricType)) {
			node = &corev1.Node{}
			if pod.Spec.NodeName == "" || r.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node) != nil {
				continue
			}
		}
		host, err := podaddr.Host(string(np.FabricType), pod, node, pod.Status.PodIP, np.CustomFabricNetworkNames)
		if err != nil {
			continue // not resolvable yet: its member is found by name or placeholder
		}
		out[podaddr.URL(scheme(cc), host, names.PeerPort)] = i
	}
	return out
}

// runSlots are the slots whose pods must run: every member still in the raft configuration,
// whether or not the spec still wants it, for a member that leaves while others are stopped
// takes the quorum with it: a pod goes only once its member has left raft.
func runSlots(cc *cairnv1.CairnCluster, o *observation) []names.Slot {
	all := slots(cc, int32(len(slotIndex(cc))))
	run := make([]names.Slot, 0, len(o.members))
	for _, m := range o.members {
		if m.slot >= 0 && m.slot < len(all) {
			run = append(run, all[m.slot])
		}
	}
	return run
}

// runningSlots are the slots whose pods exist, when the members cannot be asked.
func runningSlots(o *observation, want []names.Slot) []names.Slot {
	var out []names.Slot
	for _, s := range want {
		if sts := o.sets[s.StatefulSet]; sts != nil && sts.Spec.Replicas != nil && int32(s.Ordinal) < *sts.Spec.Replicas {
			out = append(out, s)
		}
	}
	return out
}

func peerList(ms []member) string {
	var parts []string
	for _, m := range ms {
		if m.ServerName != "" && m.PeerURL != "" {
			parts = append(parts, m.ServerName+"="+m.PeerURL)
		}
	}
	return strings.Join(parts, ",")
}

func bootstrapped(cc *cairnv1.CairnCluster) bool { return len(cc.Status.Members) > 0 }

// applyStatefulSets sizes every rack's StatefulSet to hold exactly the given slots' pods.
func (r *Reconciler) applyStatefulSets(ctx context.Context, cc *cairnv1.CairnCluster, o *observation, run []names.Slot, boot bootstrap) error {
	replicas := names.Replicas(cc.Name, rackIDs(cc), run)
	for _, rack := range racksOrNone(cc) {
		name := names.StatefulSet(cc.Name, rack)
		if err := r.applyStatefulSet(ctx, cc, statefulSet(cc, rack, replicas[name], boot)); err != nil {
			return err
		}
	}
	// StatefulSets of racks the spec dropped: their members left raft above.
	for name, sts := range o.sets {
		if _, ok := replicas[name]; !ok {
			if err := client.IgnoreNotFound(r.Delete(ctx, sts)); err != nil {
				return err
			}
		}
	}
	return nil
}

func racksOrNone(cc *cairnv1.CairnCluster) []int32 {
	if len(cc.Spec.Racks) == 0 {
		return []int32{0}
	}
	return rackIDs(cc)
}

// deleteOrphanClaims deletes the data claims of pods that no longer run: a member that left
// raft must never come back with its old log.
func (r *Reconciler) deleteOrphanClaims(ctx context.Context, cc *cairnv1.CairnCluster, o *observation, run []names.Slot) error {
	keep := map[string]bool{}
	for _, s := range run {
		keep[PVCName(s.Pod)] = true
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := r.List(ctx, &pvcs, client.InNamespace(cc.Namespace), client.MatchingLabels(names.SelectorLabels(cc.Name))); err != nil {
		return err
	}
	idx := slotIndex(cc)
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		pod, ok := strings.CutPrefix(pvc.Name, DataVolume+"-")
		if _, ours := idx[pod]; !ok || !ours || keep[pvc.Name] || o.pods[pod] != nil {
			continue
		}
		log.FromContext(ctx).Info("deleting the data claim of a removed member", "claim", pvc.Name)
		if err := client.IgnoreNotFound(r.Delete(ctx, pvc)); err != nil {
			return err
		}
	}
	return nil
}
