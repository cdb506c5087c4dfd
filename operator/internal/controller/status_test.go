package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	cairn "github.com/cairn-io/cairn/client"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestBuildStatus(t *testing.T) {
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Spec: cairnv1.CairnClusterSpec{Size: 3}}
	ready := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	}
	o := &observation{pods: map[string]*corev1.Pod{"c-0": ready("c-0"), "c-1": ready("c-1"), "c-2": ready("c-2")}}
	for i, r := range []string{"database-leader", "database-voter", "database-voter"} {
		o.members = append(o.members, member{Member: cairn.Member{ServerName: fmt.Sprintf("c-%d", i), ID: fmt.Sprint(i),
			URL: fmt.Sprintf("http://10.0.0.%d:2379", i+1), AlternateURL: fmt.Sprintf("http://198.51.100.%d:2379", i+1),
			Status: "Online", Roles: []string{r}, Database: true}, slot: i, leader: i == 0})
	}
	st := buildStatus(cc, o, "203.0.113.10:2379", nil)
	if st.Phase != cairnv1.PhaseCompleted || st.Health != "3/3" || st.Size != 3 || st.Seed != "203.0.113.10:2379" ||
		st.Endpoints != "10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379" || st.Members[0].Role != "leader" ||
		st.Members[1].AlternateEndpoint != "198.51.100.2:2379" || st.Selector != "app.kubernetes.io/name=cairn,app.kubernetes.io/instance=c" {
		t.Fatalf("status %+v", st)
	}
	o.progress = "restarting c-1"
	if st := buildStatus(cc, o, "", nil); st.Phase != cairnv1.PhaseInProgress || st.Conditions[0].Message != "restarting c-1" {
		t.Fatalf("in progress: %+v", st)
	}
	if st := buildStatus(cc, o, "", fmt.Errorf("boom")); st.Phase != cairnv1.PhaseError || st.Conditions[0].Reason != "ReconcileError" {
		t.Fatalf("error: %+v", st)
	}
	// Members unreachable: the last members seen are kept.
	cc.Status = st
	if got := buildStatus(cc, nil, "", nil); len(got.Members) != 3 || got.Phase != cairnv1.PhaseInProgress {
		t.Fatalf("unreachable: %+v", got)
	}
}

// TestPrinterColumns reads the API server's Table output, as kubectl get does.
func TestPrinterColumns(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	cc := &cairnv1.CairnCluster{ObjectMeta: metav1.ObjectMeta{Name: "my-cairn", Namespace: ns},
		Spec: cairnv1.CairnClusterSpec{Size: 3, Image: "cairn:test",
			SeedsFinderServices: cairnv1.SeedsFinderServices{LoadBalancer: &cairnv1.LoadBalancerSpec{}}}}
	if err := k8s.Create(ctx, cc); err != nil {
		t.Fatal(err)
	}
	// The test plays the cloud's load balancer controller.
	eventually(t, 20*time.Second, func() error {
		svc := &corev1.Service{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "my-cairn-seeds"}, svc); err != nil {
			return err
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}}
		return k8s.Status().Update(ctx, svc)
	})
	cs := kubernetes.NewForConfigOrDie(restCfg)
	var table metav1.Table
	eventually(t, 20*time.Second, func() error {
		raw, err := cs.RESTClient().Get().AbsPath("/apis/cairn.io/v1alpha1/namespaces", ns, "cairnclusters").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &table); err != nil {
			return err
		}
		if len(table.Rows) != 1 {
			return fmt.Errorf("%d rows", len(table.Rows))
		}
		cells := table.Rows[0].Cells
		if len(cells) != 6 || fmt.Sprint(cells[:5]) != "[my-cairn 3 0/3 InProgress 203.0.113.10:2379]" || (cells[5] != nil && cells[5] != "") {
			return fmt.Errorf("cells %v", cells)
		}
		return nil
	})
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, fmt.Sprintf("%s:%d", c.Name, c.Priority))
	}
	if got := fmt.Sprint(cols); got != "[Name:0 SIZE:0 HEALTH:0 PHASE:0 SEED:0 ENDPOINTS:1]" {
		t.Fatalf("columns %s: ENDPOINTS must show only in wide output", got)
	}
}
