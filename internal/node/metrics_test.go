package node_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/server"
	"github.com/cairn-io/cairn/internal/testcluster"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a member's /metrics from its metrics port.
func scrape(t *testing.T, m *testcluster.Member) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := httpGet(metricsURL(t, m) + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("scrape %s: %d %v", m.Name, code, err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("scrape %s: %v", m.Name, err)
	}
	return fams
}

// value is the sample of family name whose labels include want (a histogram's count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// metricAtLeast polls a member's scrape until the sample reaches min.
func metricAtLeast(t *testing.T, m *testcluster.Member, name string, labels map[string]string, min float64) {
	t.Helper()
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		v, ok := value(scrape(t, m), name, labels)
		if !ok || v < min {
			return fmt.Errorf("%s: %s%v = %v (present %v), want >= %v", m.Name, name, labels, v, ok, min)
		}
		return nil
	})
}

// The etcd-compatible metrics carry etcd's names, types and labels, and move with what happens.
func TestEtcdMetricsFollowTheCluster(t *testing.T) {
	c := testcluster.New(t, 3, withMetricsPort())
	leader := c.WaitLeader(t)
	var follower *testcluster.Member
	for _, m := range c.Followers() {
		follower = m
		break
	}
	lid := server.MemberIDString(leader.Node().MemberID())
	fid := server.MemberIDString(follower.Node().MemberID())

	types := map[string]dto.MetricType{
		"etcd_server_has_leader": dto.MetricType_GAUGE, "etcd_server_is_leader": dto.MetricType_GAUGE,
		"etcd_server_leader_changes_seen_total": dto.MetricType_COUNTER,
		"etcd_server_proposals_committed_total": dto.MetricType_GAUGE,
		"etcd_server_proposals_applied_total":   dto.MetricType_GAUGE,
		"etcd_server_proposals_pending":         dto.MetricType_GAUGE,
		"etcd_server_proposals_failed_total":    dto.MetricType_COUNTER,
		"etcd_disk_wal_fsync_duration_seconds":  dto.MetricType_HISTOGRAM,
		"etcd_server_id":                        dto.MetricType_GAUGE, "etcd_cluster_version": dto.MetricType_GAUGE,
		"etcd_server_version": dto.MetricType_GAUGE, "process_resident_memory_bytes": dto.MetricType_GAUGE,
	}
	fams := scrape(t, leader)
	for name, typ := range types {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %v, etcd's is a %v", name, f.GetType(), typ)
		}
	}
	if v, _ := value(fams, "etcd_server_id", map[string]string{"server_id": lid}); v != 1 {
		t.Errorf("etcd_server_id{server_id=%q} = %v", lid, v)
	}
	if v, _ := value(fams, "etcd_cluster_version", map[string]string{"cluster_version": "3.4.0"}); v != 1 {
		t.Errorf("etcd_cluster_version = %v", v)
	}

	leaders := 0.0
	for _, m := range c.Members {
		metricAtLeast(t, m, "etcd_server_has_leader", nil, 1)
		metricAtLeast(t, m, "etcd_server_leader_changes_seen_total", nil, 1)
		v, _ := value(scrape(t, m), "etcd_server_is_leader", nil)
		leaders += v
	}
	if leaders != 1 {
		t.Errorf("etcd_server_is_leader sums to %v over the members", leaders)
	}

	// Writes through the follower travel the relay; reads through the leader run read-index rounds.
	for i := 0; i < 5; i++ {
		if _, err := c.Put(follower.Index, fmt.Sprintf("/m/%d", i), "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(leader.Index, "/m", url.Values{"quorum": {"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get(leader.Index, "/missing", nil); err == nil {
		t.Fatal("GET of a missing key succeeded")
	}
	if _, err := c.Do(leader.Index, "PUT", "/ttl", nil, url.Values{"value": {"x"}, "ttl": {"1"}}); err != nil {
		t.Fatal(err)
	}
	committed, _ := value(scrape(t, leader), "etcd_server_proposals_committed_total", nil)
	if committed < 6 {
		t.Errorf("proposals committed = %v after 6 writes", committed)
	}
	metricAtLeast(t, follower, "etcd_server_proposals_applied_total", nil, committed)
	metricAtLeast(t, leader, "etcd_disk_wal_fsync_duration_seconds", nil, 1)
	metricAtLeast(t, leader, "etcd_disk_wal_write_bytes_total", nil, 1)
	metricAtLeast(t, leader, "etcd_network_peer_round_trip_time_seconds", map[string]string{"To": fid}, 1)
	metricAtLeast(t, leader, "etcd_network_peer_sent_bytes_total", map[string]string{"To": fid}, 1)
	metricAtLeast(t, follower, "etcd_network_peer_sent_bytes_total", map[string]string{"To": lid}, 1)
	metricAtLeast(t, follower, "etcd_http_received_total", map[string]string{"method": "PUT"}, 5)
	metricAtLeast(t, leader, "etcd_http_received_total", map[string]string{"method": "QGET"}, 5)
	metricAtLeast(t, leader, "etcd_http_successful_duration_seconds", map[string]string{"method": "QGET"}, 5)
	metricAtLeast(t, leader, "etcd_http_failed_total", map[string]string{"method": "GET", "code": "404"}, 1)
	metricAtLeast(t, leader, "cairn_http_request_duration_seconds", map[string]string{"operation": "get", "status": "404"}, 1)
	metricAtLeast(t, follower, "cairn_http_request_duration_seconds", map[string]string{"operation": "put", "status": "201"}, 1)
	metricAtLeast(t, leader, "cairn_read_index_rounds_total", nil, 5)
	metricAtLeast(t, leader, "cairn_read_index_batch_size", nil, 5)
	metricAtLeast(t, follower, "cairn_relay_frames_total", map[string]string{"direction": "sent"}, 5)
	metricAtLeast(t, leader, "cairn_relay_frames_total", map[string]string{"direction": "received"}, 5)
	metricAtLeast(t, follower, "cairn_ttl_expiries_total", nil, 1)

	if err := leader.Node().Raft().Snapshot(); err != nil {
		t.Fatal(err)
	}
	metricAtLeast(t, leader, "cairn_snapshot_duration_seconds", nil, 1)
	metricAtLeast(t, leader, "cairn_snapshot_size_bytes", nil, 1)

	// A new leader: every survivor counts the change.
	before, _ := value(scrape(t, follower), "etcd_server_leader_changes_seen_total", nil)
	c.Kill(leader.Index)
	metricAtLeast(t, follower, "etcd_server_leader_changes_seen_total", nil, before+1)
	metricAtLeast(t, follower, "etcd_server_has_leader", nil, 1)
}

// The auth cache's counters move with credential checks: the first check of a password is a
// miss (a bcrypt comparison), repeats are hits, and a wrong password is never a hit.
func TestAuthCacheMetrics(t *testing.T) {
	c := testcluster.New(t, 1, withMetricsPort())
	m := c.WaitLeader(t)
	c.EnableAuth(t, "rootpw")
	before := scrape(t, m)
	hits0, okH := value(before, "cairn_auth_cache_hits_total", nil)
	miss0, okM := value(before, "cairn_auth_cache_misses_total", nil)
	if !okH || !okM {
		t.Fatalf("auth cache counters missing from /metrics")
	}
	for i := 0; i < 3; i++ {
		if status, body, err := c.AuthCall(0, "GET", "/v2/keys/", "", "root", "rootpw"); err != nil || status != 200 {
			t.Fatalf("GET as root: %d %s %v", status, body, err)
		}
	}
	if status, _, err := c.AuthCall(0, "GET", "/v2/keys/", "", "root", "wrong"); err != nil || status != 401 {
		t.Fatalf("GET with a wrong password: %d %v, want 401", status, err)
	}
	after := scrape(t, m)
	hits, _ := value(after, "cairn_auth_cache_hits_total", nil)
	miss, _ := value(after, "cairn_auth_cache_misses_total", nil)
	// EnableAuth's own calls may have cached root's password already, so the three GETs are
	// at least two hits; the wrong password is one more miss and no hit.
	if hits-hits0 < 2 || hits-hits0 > 3 {
		t.Errorf("cache hits moved by %v over three checks of one password, want 2 or 3", hits-hits0)
	}
	if miss-miss0 < 1 || miss-miss0 > 2 {
		t.Errorf("cache misses moved by %v, want 1 or 2 (the wrong password, maybe the first check)", miss-miss0)
	}
	if fams := scrape(t, m); fams["cairn_auth_cache_hits_total"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("cairn_auth_cache_hits_total is %v, want a counter", fams["cairn_auth_cache_hits_total"].GetType())
	}
}
