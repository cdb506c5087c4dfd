package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubelet plays, for one namespace, the parts of Kubernetes that envtest does not run: the
// StatefulSet controller (pods <sts>-<i> below replicas with their claims, pods above deleted),
// the kubelet (the init container and cairnd as real processes, pod status and readiness from
// /readyz, SIGTERM on deletion), and the PVC protection controller (a claim goes, with its
// data, once no pod uses it).
//
// Every pod gets its own loopback address 127.a.b.N, so each member listens on the fixed ports
// the operator expects, and runs in a private mount namespace whose /etc/hosts resolves the
// members' stable names through the headless service.
type kubelet struct {
	t          *testing.T
	ns         string
	dir        string // pods' and claims' directories, logs
	cairnd     string
	initBin    string
	kubeconfig string
	hosts      string
	node       string
	// fabricPrefix is where fabric network addresses come from: with a fabric network set,
	// every pod start gets a new one, as a pod rescheduled elsewhere would.
	fabricPrefix string

	mu      sync.Mutex
	closing bool // the test ends: no process starts again
	// admit, when set, judges each pod the StatefulSet controller is about to create or to
	// delete (op "create", "delete"); an error fails the test (the controller goes on, as
	// Kubernetes would).
	admit func(op, pod string) error
	// fabricNet, when set, is a Multus network every pod is attached to, with the address the
	// pod's peer port listens on; fabricNext counts the addresses handed out.
	fabricNet  string
	fabricNext int
	wg         sync.WaitGroup    // every pod's goroutine
	ips        map[string]string // pod name -> its IP, stable over recreation (the hosts file lists them)
	pods       map[types.UID]*podRun
	byPod      map[string]*podRun // running processes by pod name
	// starts counts cairnd processes started per pod; terminations lists the pods whose
	// process was stopped, and whether that member led the cluster then.
	starts       map[string]int
	terminations []termination
	logs         []string
}

type termination struct {
	pod    string
	leader bool
}

type podRun struct {
	name     string
	ip       string
	fabricIP string // on the fabric network, when the kubelet has one
	uid      types.UID

	mu   sync.Mutex
	proc *exec.Cmd
	exit chan struct{} // closed when proc has exited
}

const kubeletTick = 150 * time.Millisecond

// startKubelet runs the kubelet for ns until the test ends; cluster is the CairnCluster whose
// members' names the hosts file must resolve, racks the ids of its racks (none: one StatefulSet).
func startKubelet(t *testing.T, ns, cluster, cairnd, initBin string, racks ...int32) *kubelet {
	t.Helper()
	k := &kubelet{t: t, ns: ns, dir: t.TempDir(), cairnd: cairnd, initBin: initBin, node: "kubelet-test",
		ips: map[string]string{}, pods: map[types.UID]*podRun{}, byPod: map[string]*podRun{}, starts: map[string]int{}}
	// A private /8 corner for this test: other tests on the machine use 127.0.0.1.
	a, b := 100+rand.IntN(100), 1+rand.IntN(250)
	k.fabricPrefix = fmt.Sprintf("127.%d.%d.", a, b+1)
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	for i, s := range names.Layout(cluster, racks, 9*max(1, len(racks))) {
		ip := fmt.Sprintf("127.%d.%d.%d", a, b, 10+i)
		k.ips[s.Pod] = ip
		fmt.Fprintf(&hosts, "%s %s %s.cluster.local\n", ip, names.PeerHost(s.Pod, cluster, ns), names.PeerHost(s.Pod, cluster, ns))
	}
	k.hosts = filepath.Join(k.dir, "hosts")
	if err := os.WriteFile(k.hosts, []byte(hosts.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The init step reads the API server as any pod would, with its own credentials.
	user, err := testEnv.AddUser(envtest.User{Name: "cairn-init-" + ns, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	k.kubeconfig = filepath.Join(k.dir, "kubeconfig")
	if err := os.WriteFile(k.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	// The ServiceAccount controller's part: pods run as "default".
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if err := k8s.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	// A change to a StatefulSet is acted on at once, as the real controller does; pods are
	// looked at every tick.
	kick := make(chan struct{}, 1)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		k.watchStatefulSets(ctx, kick)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := k.sync(ctx); err != nil && ctx.Err() == nil {
				k.logf("sync: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-kick:
			case <-time.After(kubeletTick):
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-watching
		k.stopAll()
		k.wg.Wait()
		if t.Failed() || os.Getenv("KUBELET_LOGS") != "" {
			k.dumpLogs()
		}
	})
	return k
}

func (k *kubelet) logf(format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.logs = append(k.logs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// watchStatefulSets kicks the sync loop on every StatefulSet event until ctx ends.
func (k *kubelet) watchStatefulSets(ctx context.Context, kick chan<- struct{}) {
	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		k.logf("watch client: %v", err)
		return
	}
	for ctx.Err() == nil {
		w, err := wc.Watch(ctx, &appsv1.StatefulSetList{}, client.InNamespace(k.ns))
		if err != nil {
			k.logf("watching StatefulSets: %v", err)
			select {
			case <-ctx.Done():
			case <-time.After(kubeletTick):
			}
			continue
		}
		for range w.ResultChan() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		w.Stop()
	}
}

// sync is one pass of the StatefulSet controller, the PVC protection controller and the
// kubelet's pod loop.
func (k *kubelet) sync(ctx context.Context) error {
	var sets appsv1.StatefulSetList
	if err := k8s.List(ctx, &sets, client.InNamespace(k.ns)); err != nil {
		return err
	}
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(k.ns)); err != nil {
		return err
	}
	existing := map[string]*corev1.Pod{}
	for i := range pods.Items {
		existing[pods.Items[i].Name] = &pods.Items[i]
	}
	want := map[string]bool{}
	for i := range sets.Items {
		sts := &sets.Items[i]
		replicas := int(ptrOr(sts.Spec.Replicas, 1))
		for ord := range replicas {
			name := names.Pod(sts.Name, ord)
			want[name] = true
			if existing[name] == nil {
				if err := k.createPod(ctx, sts, name); err != nil {
					return err
				}
			}
		}
	}
	for _, p := range existing {
		owned := metav1.GetControllerOf(p)
		if owned == nil || owned.Kind != "StatefulSet" || want[p.Name] || p.DeletionTimestamp != nil {
			continue
		}
		// Above replicas: the StatefulSet controller deletes it (gracefully; the kubelet stops it).
		k.check("delete", owned.Name, p.Name)
		k.logf("deleting %s: above its StatefulSet's replicas", p.Name)
		if err := client.IgnoreNotFound(k8s.Delete(ctx, p)); err != nil {
			return err
		}
	}
	for _, p := range existing {
		k.mu.Lock()
		run := k.pods[p.UID]
		k.mu.Unlock()
		switch {
		case run == nil && p.DeletionTimestamp == nil:
			k.startPod(p)
		case run == nil:
			// Deleting, never started here: nothing to stop.
			if err := forceDelete(ctx, p); err != nil {
				return err
			}
		}
	}
	return k.syncClaims(ctx)
}

func ptrOr(p *int32, d int32) int32 {
	if p == nil {
		return d
	}
	return *p
}

// createPod makes a StatefulSet's pod and its claims as the StatefulSet controller does.
func (k *kubelet) createPod(ctx context.Context, sts *appsv1.StatefulSet, name string) error {
	tmpl := sts.Spec.Template.DeepCopy()
	for _, ct := range sts.Spec.VolumeClaimTemplates {
		claim := ct.Name + "-" + name
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: k.ns,
			Labels: maps.Clone(ct.Labels)}, Spec: *ct.Spec.DeepCopy()}
		if err := k8s.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: ct.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	}
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[names.LabelPodName] = name
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns, Labels: labels, Annotations: maps.Clone(tmpl.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(sts, appsv1.SchemeGroupVersion.WithKind("StatefulSet"))}},
		Spec: tmpl.Spec,
	}
	pod.Spec.Hostname, pod.Spec.Subdomain = name, sts.Spec.ServiceName
	// Scheduled at once: a pod on a node is deleted gracefully, waiting for its kubelet.
	pod.Spec.NodeName = k.node
	k.check("create", sts.Name, name)
	k.logf("creating pod %s (config %s)", name, pod.Annotations[ConfigHashAnnotation])
	if err := k8s.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// syncClaims lets a deleted claim go once no pod uses it, and removes its data with it.
func (k *kubelet) syncClaims(ctx context.Context) error {
	var pvcs corev1.PersistentVolumeClaimList
	if err := k8s.List(ctx, &pvcs, client.InNamespace(k.ns)); err != nil {
		return err
	}
	live := map[string]bool{}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		pod := strings.TrimPrefix(pvc.Name, DataVolume+"-")
		if pvc.DeletionTimestamp == nil {
			live[pvc.Name] = true
			continue
		}
		if k.podExists(ctx, pod) {
			live[pvc.Name] = true // in use: the protection finalizer holds it
			continue
		}
		if len(pvc.Finalizers) > 0 {
			pvc.Finalizers = nil
			if err := client.IgnoreNotFound(k8s.Update(ctx, pvc)); err != nil && !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	dirs, err := os.ReadDir(filepath.Join(k.dir, "claims"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, d := range dirs {
		if live[d.Name()] {
			continue
		}
		k.logf("claim %s is gone: removing its volume", d.Name())
		if err := os.RemoveAll(filepath.Join(k.dir, "claims", d.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (k *kubelet) podExists(ctx context.Context, name string) bool {
	k.mu.Lock()
	_, running := k.byPod[name]
	k.mu.Unlock()
	if running {
		return true
	}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: name}, &corev1.Pod{})
	return !apierrors.IsNotFound(err)
}

func forceDelete(ctx context.Context, p *corev1.Pod) error {
	return client.IgnoreNotFound(k8s.Delete(ctx, p, client.GracePeriodSeconds(0),
		client.Preconditions{UID: &p.UID}))
}

// startPod runs a pod's containers until the pod is deleted.
func (k *kubelet) startPod(p *corev1.Pod) {
	k.mu.Lock()
	ip := k.ips[p.Name]
	if ip == "" {
		k.mu.Unlock()
		k.t.Errorf("pod %s: no address for a pod the layout does not know", p.Name)
		return
	}
	if prev := k.byPod[p.Name]; prev != nil {
		// The previous pod of that name is still shutting down; look again next pass.
		k.mu.Unlock()
		return
	}
	run := &podRun{name: p.Name, ip: ip, uid: p.UID}
	if k.fabricNet != "" {
		run.fabricIP = fmt.Sprintf("%s%d", k.fabricPrefix, 10+k.fabricNext)
		k.fabricNext++
	}
	k.pods[p.UID] = run
	k.byPod[p.Name] = run
	k.mu.Unlock()
	k.wg.Go(func() { k.runPod(run, p.DeepCopy()) })
}

// runPod is the kubelet's life of one pod.
func (k *kubelet) runPod(run *podRun, p *corev1.Pod) {
	ctx := context.Background()
	defer func() {
		k.mu.Lock()
		delete(k.byPod, run.name)
		k.mu.Unlock()
	}()
	podDir := filepath.Join(k.dir, "pods", string(run.uid))
	if err := k.setStatus(ctx, run, func(st *corev1.PodStatus) {
		st.Phase, st.PodIP, st.HostIP = corev1.PodPending, run.ip, "127.0.0.1"
		st.PodIPs, st.HostIPs = []corev1.PodIP{{IP: run.ip}}, []corev1.HostIP{{IP: "127.0.0.1"}}
		st.StartTime = ptrTime(time.Now())
	}); err != nil {
		// Forget the pod, so that the next pass starts it again if it is still there.
		k.logf("%s: %v", run.name, err)
		k.mu.Lock()
		delete(k.pods, run.uid)
		k.mu.Unlock()
		return
	}
	if run.fabricIP != "" {
		if err := k.attachFabric(ctx, run); err != nil {
			k.logf("%s: %v", run.name, err)
			k.mu.Lock()
			delete(k.pods, run.uid)
			k.mu.Unlock()
			return
		}
	}
	// Init containers, retried as CrashLoopBackOff would, until they succeed or the pod goes.
	for _, c := range p.Spec.InitContainers {
		for attempt := 0; ; attempt++ {
			err := k.runInit(ctx, run, p, c, podDir)
			if err == nil {
				break
			}
			k.logf("%s: init container %s: %v", run.name, c.Name, err)
			if k.isClosing() {
				return
			}
			if k.deleted(ctx, run) {
				k.finish(ctx, run)
				return
			}
			time.Sleep(time.Duration(min(attempt+1, 5)) * 200 * time.Millisecond)
		}
	}
	main := p.Spec.Containers[0]
	cmdline, env, err := k.containerCommand(run, p, main, podDir)
	if err != nil {
		k.t.Errorf("pod %s: %v", run.name, err)
		return
	}
	ready := false
	for {
		if err := k.launch(run, cmdline, env, podDir); errors.Is(err, errClosing) {
			return
		} else if err != nil {
			k.t.Errorf("pod %s: starting cairnd: %v", run.name, err)
			return
		}
		if err := k.setStatus(ctx, run, func(st *corev1.PodStatus) {
			st.Phase = corev1.PodRunning
			setCondition(st, corev1.PodInitialized, true)
			setCondition(st, corev1.ContainersReady, false)
			setCondition(st, corev1.PodReady, false)
		}); err != nil {
			k.logf("%s: %v", run.name, err)
		}
		ready = false
		// Probe and watch for deletion until the process exits or the pod goes.
		for {
			if k.deleted(ctx, run) {
				k.stop(run)
				k.finish(ctx, run)
				return
			}
			if exited(run) {
				if k.isClosing() {
					return
				}
				k.logf("%s: cairnd exited on its own; restarting it", run.name)
				break
			}
			if r := probeReady(run.ip, main); r != ready {
				ready = r
				if err := k.setStatus(ctx, run, func(st *corev1.PodStatus) {
					setCondition(st, corev1.ContainersReady, r)
					setCondition(st, corev1.PodReady, r)
				}); err != nil {
					k.logf("%s: %v", run.name, err)
				}
			}
			time.Sleep(kubeletTick)
		}
		if err := k.setStatus(ctx, run, func(st *corev1.PodStatus) {
			setCondition(st, corev1.ContainersReady, false)
			setCondition(st, corev1.PodReady, false)
		}); err != nil {
			k.logf("%s: %v", run.name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func ptrTime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool) {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status != s {
				st.Conditions[i].Status, st.Conditions[i].LastTransitionTime = s, metav1.Now()
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.Now()})
}

// setStatus changes the pod's status as its kubelet; the pod must still be run's.
func (k *kubelet) setStatus(ctx context.Context, run *podRun, change func(*corev1.PodStatus)) error {
	return k.updatePod(ctx, run, func(p *corev1.Pod) error {
		change(&p.Status)
		return k8s.Status().Update(ctx, p)
	})
}

// updatePod reads run's pod and writes it back through update, retrying on conflicts; it fails
// once the pod is another than run's.
func (k *kubelet) updatePod(ctx context.Context, run *podRun, update func(*corev1.Pod) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: run.name}, p); err != nil {
			return err
		}
		if p.UID != run.uid {
			return fmt.Errorf("pod %s was replaced", run.name)
		}
		return update(p)
	})
}

// deleted is true once the pod is being deleted, or gone.
func (k *kubelet) deleted(ctx context.Context, run *podRun) bool {
	p := &corev1.Pod{}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: k.ns, Name: run.name}, p)
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && (p.UID != run.uid || p.DeletionTimestamp != nil)
}

// finish confirms the deletion to the API server, as a kubelet does once the containers stopped.
func (k *kubelet) finish(ctx context.Context, run *podRun) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: run.name, Namespace: k.ns, UID: run.uid}}
	if err := forceDelete(ctx, p); err != nil && !apierrors.IsConflict(err) {
		k.logf("%s: deleting: %v", run.name, err)
	}
	k.logf("pod %s (%s) is gone", run.name, run.uid)
}

// env resolves a container's environment from the pod, as the downward API does.
func (k *kubelet) env(run *podRun, p *corev1.Pod, c corev1.Container) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				out[e.Name] = p.Name
			case "metadata.namespace":
				out[e.Name] = p.Namespace
			case "status.podIP":
				out[e.Name] = run.ip
			case "status.hostIP":
				out[e.Name] = "127.0.0.1"
			default:
				return nil, fmt.Errorf("env %s: field %s is not served here", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		default:
			return nil, fmt.Errorf("env %s: only values and field references are served here", e.Name)
		}
	}
	return out, nil
}

// containerCommand is a container's command line on this machine: the image's binaries
// replaced by the ones built for the test, $(VAR) expanded, mount paths by their volumes'
// directories, and the wildcard listen address by the pod's own.
func (k *kubelet) containerCommand(run *podRun, p *corev1.Pod, c corev1.Container, podDir string) ([]string, map[string]string, error) {
	env, err := k.env(run, p, c)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Command) != 1 {
		return nil, nil, fmt.Errorf("container %s: command %q", c.Name, c.Command)
	}
	bins := map[string]string{"/cairnd": k.cairnd, "/cairn-k8s-init": k.initBin}
	bin := bins[c.Command[0]]
	if bin == "" {
		return nil, nil, fmt.Errorf("container %s: no binary for %s in the test", c.Name, c.Command[0])
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		dir, err := k.volumeDir(p, m.Name, podDir)
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: %v", c.Name, err)
		}
		mounts[m.MountPath] = dir
	}
	paths := slices.Collect(maps.Keys(mounts))
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	cmd := []string{bin}
	for _, a := range c.Args {
		for name, v := range env {
			a = strings.ReplaceAll(a, "$("+name+")", v)
		}
		for _, mp := range paths {
			a = strings.ReplaceAll(a, mp, mounts[mp])
		}
		if run.fabricIP != "" {
			// The peer port listens on the fabric network only, as it would be reached there.
			a = strings.ReplaceAll(a, fmt.Sprintf("0.0.0.0:%d", names.PeerPort), fmt.Sprintf("%s:%d", run.fabricIP, names.PeerPort))
		}
		a = strings.ReplaceAll(a, "0.0.0.0", run.ip)
		cmd = append(cmd, a)
	}
	return cmd, env, nil
}

// volumeDir is where a pod's volume lives: a claim's directory survives the pod, an emptyDir's
// belongs to this pod.
func (k *kubelet) volumeDir(p *corev1.Pod, volume, podDir string) (string, error) {
	for _, v := range p.Spec.Volumes {
		if v.Name != volume {
			continue
		}
		var dir string
		switch {
		case v.PersistentVolumeClaim != nil:
			dir = filepath.Join(k.dir, "claims", v.PersistentVolumeClaim.ClaimName)
		case v.EmptyDir != nil:
			dir = filepath.Join(podDir, "volumes", v.Name)
		case v.Secret != nil:
			// As the kubelet projects a Secret: one file per key, read when the pod starts.
			dir = filepath.Join(podDir, "volumes", v.Name)
			sec := &corev1.Secret{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: p.Namespace, Name: v.Secret.SecretName}, sec); err != nil {
				return "", fmt.Errorf("volume %s: %v", v.Name, err)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return "", err
			}
			for key, data := range sec.Data {
				if err := os.WriteFile(filepath.Join(dir, key), data, 0o600); err != nil {
					return "", err
				}
			}
			return dir, nil
		default:
			return "", fmt.Errorf("volume %s: only claims, emptyDirs and Secrets are served here", v.Name)
		}
		return dir, os.MkdirAll(dir, 0o755)
	}
	return "", fmt.Errorf("no volume %s in the pod", volume)
}

func (k *kubelet) runInit(ctx context.Context, run *podRun, p *corev1.Pod, c corev1.Container, podDir string) error {
	cmdline, env, err := k.containerCommand(run, p, c, podDir)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, cmdline[0], cmdline[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig)
	for n, v := range env {
		cmd.Env = append(cmd.Env, n+"="+v)
	}
	out, err := cmd.CombinedOutput()
	k.logf("%s: init %s: %s", run.name, c.Name, strings.TrimSpace(string(out)))
	return err
}

// launch starts cairnd in its own mount namespace, where /etc/hosts is the test's.
func (k *kubelet) launch(run *podRun, cmdline []string, env map[string]string, podDir string) error {
	if err := os.MkdirAll(podDir, 0o755); err != nil {
		return err
	}
	// Checked and started under k.mu, so that stopAll sees every process that ever starts.
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closing {
		return errClosing
	}
	logf, err := os.OpenFile(filepath.Join(k.dir, run.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"-m", "--", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, k.hosts}, cmdline...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = os.Environ()
	for n, v := range env {
		cmd.Env = append(cmd.Env, n+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(logf, "=== %s pod %s: %s\n", time.Now().Format("15:04:05.000"), run.uid, strings.Join(cmdline, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exit)
	}()
	run.mu.Lock()
	run.proc, run.exit = cmd, exit
	run.mu.Unlock()
	k.starts[run.name]++
	k.logs = append(k.logs, fmt.Sprintf("%s %s: cairnd started (pid %d)", time.Now().Format("15:04:05.000"), run.name, cmd.Process.Pid))
	return nil
}

func exited(run *podRun) bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	select {
	case <-run.exit:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for the exit (SIGKILL after the grace period).
func (k *kubelet) stop(run *podRun) {
	run.mu.Lock()
	cmd, exit := run.proc, run.exit
	run.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exit:
		return
	default:
	}
	k.mu.Lock()
	k.terminations = append(k.terminations, termination{pod: run.name, leader: isLeader(run.ip)})
	k.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(20 * time.Second):
		k.logf("%s: no exit 20s after SIGTERM: killing it", run.name)
		_ = cmd.Process.Kill()
		<-exit
	}
	k.logf("%s: cairnd stopped", run.name)
}

// useFabricNetwork attaches every pod started from now on to the Multus network name, with
// a new address at each start.
func (k *kubelet) useFabricNetwork(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fabricNet = name
}

// attachFabric writes the pod's Multus network-status annotation, as Multus does when it
// sets up the pod's sandbox, before the init containers run.
func (k *kubelet) attachFabric(ctx context.Context, run *podRun) error {
	k.mu.Lock()
	net := k.fabricNet
	k.mu.Unlock()
	status := fmt.Sprintf(`[{"name":"kindnet","interface":"eth0","ips":[%q],"default":true},{"name":"%s/%s","interface":"net1","ips":[%q]}]`,
		run.ip, k.ns, net, run.fabricIP)
	return k.updatePod(ctx, run, func(p *corev1.Pod) error {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["k8s.v1.cni.cncf.io/network-status"] = status
		return k8s.Update(ctx, p)
	})
}

// fabricIPOf is the fabric address of a pod's current run ("" when it runs none).
func (k *kubelet) fabricIPOf(pod string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.byPod[pod]; r != nil {
		return r.fabricIP
	}
	return ""
}

// setAdmit installs the check every pod creation and deletion must pass from now on.
func (k *kubelet) setAdmit(f func(op, pod string) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.admit = f
}

func (k *kubelet) check(op, sts, pod string) {
	k.mu.Lock()
	admit := k.admit
	k.mu.Unlock()
	if admit == nil {
		return
	}
	if err := admit(op, pod); err != nil {
		k.t.Errorf("StatefulSet %s: %s pod %s: %v", sts, op, pod, err)
	}
}

func (k *kubelet) isClosing() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closing
}

var errClosing = errors.New("the test is over")

// stopAll stops every process at the end of the test, all at once.
func (k *kubelet) stopAll() {
	k.mu.Lock()
	k.closing = true
	runs := slices.Collect(maps.Values(k.pods))
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { k.stop(r) })
	}
	wg.Wait()
}

// running reports whether a pod's cairnd runs now.
func (k *kubelet) running(pod string) bool {
	k.mu.Lock()
	run := k.byPod[pod]
	k.mu.Unlock()
	if run == nil {
		return false
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.proc == nil {
		return false
	}
	select {
	case <-run.exit:
		return false
	default:
		return true
	}
}

// runningPods are the pods whose cairnd runs now, with their IPs.
func (k *kubelet) runningPods() map[string]string {
	k.mu.Lock()
	runs := slices.Collect(maps.Values(k.byPod))
	k.mu.Unlock()
	out := map[string]string{}
	for _, r := range runs {
		if k.running(r.name) {
			out[r.name] = r.ip
		}
	}
	return out
}

func (k *kubelet) startsOf(pod string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.starts[pod]
}

func (k *kubelet) stopped() []termination {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.terminations)
}

func (k *kubelet) claimDir(claim string) string { return filepath.Join(k.dir, "claims", claim) }

var probeClient = &http.Client{Timeout: time.Second}

// probeReady runs the container's HTTP readiness probe against the pod's address.
func probeReady(ip string, c corev1.Container) bool {
	pr := c.ReadinessProbe
	if pr == nil || pr.HTTPGet == nil {
		return true
	}
	port := pr.HTTPGet.Port.IntValue()
	if port == 0 {
		for _, p := range c.Ports {
			if p.Name == pr.HTTPGet.Port.StrVal {
				port = int(p.ContainerPort)
			}
		}
	}
	resp, err := probeClient.Get(fmt.Sprintf("http://%s:%d%s", ip, port, pr.HTTPGet.Path))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// isLeader asks a member whether it leads (/v2/stats/self).
func isLeader(ip string) bool {
	resp, err := probeClient.Get(fmt.Sprintf("http://%s:%d/v2/stats/self", ip, names.ClientPort))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), `"StateLeader"`)
}

// dumpLogs prints the kubelet's own log and the tail of every member's output.
func (k *kubelet) dumpLogs() {
	k.mu.Lock()
	logs := slices.Clone(k.logs)
	k.mu.Unlock()
	k.t.Logf("kubelet:\n%s", strings.Join(logs, "\n"))
	files, _ := filepath.Glob(filepath.Join(k.dir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		k.t.Logf("--- %s (last %d lines):\n%s", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
}
