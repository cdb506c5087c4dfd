package names

import (
	"maps"
	"testing"
)

func TestObjectNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{StatefulSet("prod", 0), "prod"},
		{StatefulSet("prod", 2), "prod-2"},
		{Pod("prod", 0), "prod-0"},
		{Pod("prod-2", 3), "prod-2-3"},
		{Headless("prod"), "prod-headless"},
		{PodService("prod-1"), "prod-1-pod"},
		{Seeds("prod"), "prod-seeds"},
		{ClusterRoleBinding("cairn", "prod"), "cairn-cairn-prod-nodes"},
		{PeerHost("prod-1", "prod", "ns"), "prod-1.prod-headless.ns.svc"},
		{PeerURL("https", "prod-1", "prod", "ns"), "https://prod-1.prod-headless.ns.svc:2380"},
		{Selector("prod"), "app.kubernetes.io/name=cairn,app.kubernetes.io/instance=prod"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestOrdinal(t *testing.T) {
	for pod, want := range map[string]int{"prod-0": 0, "prod-2-11": 11} {
		got, err := Ordinal(pod)
		if err != nil || got != want {
			t.Errorf("Ordinal(%q) = %d, %v; want %d", pod, got, err, want)
		}
	}
	for _, bad := range []string{"prod", "prod-", "prod-x", "prod-+1"} {
		if _, err := Ordinal(bad); err == nil {
			t.Errorf("Ordinal(%q) accepted", bad)
		}
	}
}

func TestMergeOperatorWins(t *testing.T) {
	got := Merge(map[string]string{LabelName: "mine", "team": "platform"}, Labels("prod"))
	want := map[string]string{LabelName: AppName, LabelInstance: "prod", LabelManagedBy: ManagedBy, "team": "platform"}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestBandwidth(t *testing.T) {
	for in, want := range map[string]string{"1Gbps": "1G", "500Mbps": "500M", "200Kbps": "200K", "2Tbps": "2T"} {
		got, err := Bandwidth(in)
		if err != nil || got != want {
			t.Errorf("Bandwidth(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1G", "Gbps", "1Xbps", "0Mbps", "-1Mbps", "1.5Gbps"} {
		if _, err := Bandwidth(bad); err == nil {
			t.Errorf("Bandwidth(%q) accepted", bad)
		}
	}
}
