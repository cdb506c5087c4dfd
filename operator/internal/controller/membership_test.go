package controller

import (
	"testing"

	cairn "github.com/cairn-io/cairn/client"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSlotIndexFollowsTheLayout(t *testing.T) {
	cc := baseCluster()
	cc.Spec.Racks = []cairnv1.Rack{{ID: 1}, {ID: 2}}
	idx := slotIndex(cc)
	for pod, want := range map[string]int{"c-1-0": 0, "c-2-0": 1, "c-1-1": 2, "c-2-1": 3} {
		if got, ok := idx[pod]; !ok || got != want {
			t.Errorf("%s: slot %d (%v), want %d", pod, got, ok, want)
		}
	}
	if _, ok := idx["c-0"]; ok {
		t.Error("a pod of the rack-less layout is placed")
	}
}

func TestCaughtUp(t *testing.T) {
	leader := member{Member: cairn.Member{ServerName: "c-0", Status: "Online", AppliedIndex: 5000}, leader: true}
	o := &observation{members: []member{leader}}
	for _, c := range []struct {
		m    cairn.Member
		want bool
	}{
		{cairn.Member{Status: "Online", AppliedIndex: 4500}, true},
		{cairn.Member{Status: "Online", AppliedIndex: 3000}, false},
		{cairn.Member{Status: "Offline", AppliedIndex: 5000}, false},
		{cairn.Member{Status: "Online", AppliedIndex: 0}, false},
	} {
		if got := o.caughtUp(member{Member: c.m}); got != c.want {
			t.Errorf("%+v: caught up %v, want %v", c.m, got, c.want)
		}
	}
	if (&observation{}).caughtUp(member{Member: cairn.Member{Status: "Online", AppliedIndex: 1}}) {
		t.Error("caught up without a leader")
	}
}

func TestPodCurrentAndPeerList(t *testing.T) {
	cc := baseCluster()
	s := names.Layout("c", nil, 1)[0]
	hash := podTemplate(cc, 0).Annotations[ConfigHashAnnotation]
	o := &observation{pods: map[string]*corev1.Pod{"c-0": {ObjectMeta: metav1.ObjectMeta{Name: "c-0",
		Annotations: map[string]string{ConfigHashAnnotation: hash}}}}}
	if !podCurrent(cc, o, s) {
		t.Fatal("pod on the current template counted outdated")
	}
	cc.Spec.Image = "cairn:2"
	if podCurrent(cc, o, s) {
		t.Fatal("pod on the old image counted current")
	}
	ms := []member{{Member: cairn.Member{ServerName: "c-0", PeerURL: "http://a:2380"}},
		{Member: cairn.Member{PeerURL: "http://b:2380"}}, {Member: cairn.Member{ServerName: "c-2", PeerURL: "http://c:2380"}}}
	if got := peerList(ms); got != "c-0=http://a:2380,c-2=http://c:2380" {
		t.Fatalf("peer list %s: an unstarted member has no name to list", got)
	}
}

func TestRunSlotsKeepMembersThatHaveNotLeft(t *testing.T) {
	cc := baseCluster()
	cc.Spec.Size = 1
	all := names.Layout("c", nil, 3)
	// Shrinking 3 to 1: c-2 has left raft, c-1 has not yet; stopping c-1 now would leave c-0
	// alone with half of the voters.
	o := &observation{members: []member{{Member: cairn.Member{ServerName: "c-0"}, slot: 0},
		{Member: cairn.Member{ServerName: "c-1"}, slot: 1}}}
	got := runSlots(cc, o)
	if len(got) != 2 || got[0] != all[0] || got[1] != all[1] {
		t.Fatalf("run %+v, want c-0 and c-1", got)
	}
	if r := names.Replicas("c", nil, got); r["c"] != 2 {
		t.Fatalf("replicas %v", r)
	}
	// A member that matches no pod has none to keep.
	o.members = append(o.members, member{Member: cairn.Member{ServerName: "stranger"}, slot: -1})
	if got := runSlots(cc, o); len(got) != 2 {
		t.Fatalf("run %+v", got)
	}
}

func TestSetCurrentBeforeARestart(t *testing.T) {
	cc := baseCluster()
	s := names.Layout("c", nil, 1)[0]
	o := &observation{sets: map[string]*appsv1.StatefulSet{"c": statefulSet(cc, 0, 3, bootstrap{State: "existing"})}}
	if !setCurrent(cc, o, s) {
		t.Fatal("StatefulSet on the current template counted outdated")
	}
	// A new image: until the StatefulSet holds it, a deleted pod would come back on the old one.
	cc.Spec.Image = "cairn:2"
	if setCurrent(cc, o, s) {
		t.Fatal("StatefulSet on the old image counted current")
	}
	if setCurrent(cc, &observation{sets: map[string]*appsv1.StatefulSet{}}, s) {
		t.Fatal("a missing StatefulSet counted current")
	}
}
