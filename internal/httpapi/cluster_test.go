package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func getJSON(t *testing.T, url string, status int, out any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %s, want %d", url, resp.Status, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Header
}

func postState(t *testing.T, url, body string) (int, api.V1Error) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.V1Error
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("error body: %v", err)
		}
	}
	return resp.StatusCode, e
}

func TestClusterEndpoints(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(300*time.Millisecond))
	leader := c.WaitLeader(t)
	f := c.Followers()[0]
	base := f.ClientURL + "/v1/cluster"

	var info api.Cluster
	h := getJSON(t, base, http.StatusOK, &info)
	if h.Get("X-Cairn-Node") != f.Name || info.ServerName != f.Name || info.Leader != leader.Name ||
		info.Generation == 0 || len(info.MemberConfig) == 0 {
		t.Fatalf("cluster %+v, node header %q", info, h.Get("X-Cairn-Node"))
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var ms api.ClusterMembers
		getJSON(t, base+"/members", http.StatusOK, &ms)
		if len(ms.Members) != 3 {
			return fmt.Errorf("%d members", len(ms.Members))
		}
		for _, m := range ms.Members {
			if m.Status != api.StatusOnline || m.URL == "" {
				return fmt.Errorf("%+v", m)
			}
		}
		return nil
	})
	var one api.ClusterMember
	getJSON(t, base+"/members/"+leader.Name, http.StatusOK, &one)
	if one.ServerName != leader.Name || one.Roles[0] != api.RoleLeader {
		t.Fatalf("%+v", one)
	}
	var e api.V1Error
	getJSON(t, base+"/members/nobody", http.StatusNotFound, &e)
	if e.ErrorCode != 404 || e.Type != "error" {
		t.Fatalf("%+v", e)
	}
	getJSON(t, base+"/nothing/here", http.StatusNotFound, &e)

	if st, e := postState(t, base+"/members/"+leader.Name+"/state", `{"action":"explode"}`); st != http.StatusBadRequest {
		t.Fatalf("bad action: %d %+v", st, e)
	}
	if st, e := postState(t, base+"/members/"+leader.Name+"/state", `{`); st != http.StatusBadRequest {
		t.Fatalf("bad body: %d %+v", st, e)
	}
	// Sent to a follower: relayed to the leader, which evacuates itself.
	if st, e := postState(t, base+"/members/"+leader.Name+"/state", `{"action":"evacuate"}`); st != http.StatusNoContent {
		t.Fatalf("evacuate: %d %+v", st, e)
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var m api.ClusterMember
		getJSON(t, base+"/members/"+leader.Name, http.StatusOK, &m)
		if m.Status != api.StatusEvacuated || leader.IsLeader() {
			return fmt.Errorf("%+v, still leads: %v", m, leader.IsLeader())
		}
		return nil
	})
	if st, e := postState(t, leader.ClientURL+"/v1/cluster/members/"+leader.Name+"/state", `{"action":"restore"}`); st != http.StatusNoContent {
		t.Fatalf("restore: %d %+v", st, e)
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var m api.ClusterMember
		getJSON(t, base+"/members/"+leader.Name, http.StatusOK, &m)
		if m.Status != api.StatusOnline {
			return fmt.Errorf("%+v", m)
		}
		return nil
	})
}

// Every advertised client URL reaches the view, in order, with url and alternate_url still the
// first of each list, so that a TLS client can find an https:// URL that is not the first.
func TestClusterMembersListEveryClientURL(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.WithElectionTimeout(300*time.Millisecond),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			cfg.AdvertiseClientURLs = append(cfg.AdvertiseClientURLs, "https://n1.example:2379")
			cfg.AdvertiseAlternateClientURLs = []string{"http://alt.example:2379", "https://alt.example:2380"}
		}))
	m := c.Members[0]
	want := []string{m.ClientURL, "https://n1.example:2379"}
	wantAlt := []string{"http://alt.example:2379", "https://alt.example:2380"}
	var raw struct {
		Members []map[string]any `json:"members"`
	}
	getJSON(t, m.ClientURL+"/v1/cluster/members", http.StatusOK, &raw)
	if len(raw.Members) != 1 {
		t.Fatalf("%d members", len(raw.Members))
	}
	got := raw.Members[0]
	if fmt.Sprint(got["urls"]) != fmt.Sprint(want) || fmt.Sprint(got["alternate_urls"]) != fmt.Sprint(wantAlt) ||
		got["url"] != want[0] || got["alternate_url"] != wantAlt[0] {
		t.Fatalf("member %v: want urls %v, alternate_urls %v", got, want, wantAlt)
	}
}
