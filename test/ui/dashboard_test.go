package ui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairn-io/cairn/test/procs"
)

// membersState is an expression that yields "" once the member table lists exactly names,
// each with the wanted status ("" for any), and leader (if not "") as the only leader row.
func membersState(names []string, status map[string]string, leader string) string {
	want := map[string]any{"names": strings.Join(names, ","), "status": status, "leader": leader}
	return fmt.Sprintf(`(() => {
		const want = %s;
		const rows = [...document.querySelectorAll('#members tbody tr')];
		const names = rows.map((r) => r.dataset.member).sort().join(',');
		if (names !== want.names) return 'members: ' + names;
		for (const r of rows) {
			const s = want.status[r.dataset.member];
			if (s && r.dataset.status !== s) return r.dataset.member + ' is ' + r.dataset.status + ', not ' + s;
		}
		const leaders = rows.filter((r) => r.classList.contains('leader')).map((r) => r.dataset.member);
		if (want.leader && leaders.join(',') !== want.leader) return 'leader rows: ' + leaders.join(',');
		return '';
	})()`, jsonJS(want))
}

// TestDashboard opens the dashboard on a follower of three real members and checks it against
// etcdctl: the members with their racks and alternate URLs, a key created, edited with
// compare-and-swap (a stale edit refused) and deleted in the page, a key written with etcdctl
// arriving in the live watch, and the leader's death in the member list.
func TestDashboard(t *testing.T) {
	c := procs.NewCluster(t, 3, procs.Options{})
	for i, n := range c.Nodes {
		n.Args = append(n.Args, "--rack-id", strconv.Itoa(i+1),
			"--advertise-alternate-client-urls", fmt.Sprintf("http://192.0.2.%d:2379", i+1))
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	leader, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	follower := c.Followers(leader)[0]
	all := strings.Join(c.ClientURLs(), ",")

	b := newBrowser(t, false)
	b.run("open the dashboard", chromedp.Navigate(follower.ClientURL()+"/ui/"))

	// The members, all online, the leader marked, each with its rack and alternate URL.
	online := map[string]string{"n1": "Online", "n2": "Online", "n3": "Online"}
	b.waitFor("the three members", 30*time.Second, membersState([]string{"n1", "n2", "n3"}, online, leader.Name))
	b.waitFor("racks, alternate URLs, applied index and health history", 10*time.Second, fmt.Sprintf(`(() => {
		for (const r of document.querySelectorAll('#members tbody tr')) {
			const n = Number(r.dataset.member.slice(1));
			const rack = r.querySelector('.rack').textContent, alt = r.querySelector('.alternate').textContent;
			if (rack !== String(n)) return r.dataset.member + ' rack ' + rack;
			if (alt !== 'http://192.0.2.' + n + ':2379') return r.dataset.member + ' alternate ' + alt;
			if (r.querySelectorAll('.history .h-Online').length < 2) return r.dataset.member + ' has no health history yet';
		}
		const self = document.querySelector('#members tr[data-member=%s] .applied').textContent;
		if (!(Number(self) > 0)) return 'applied index of the serving member: ' + self;
		if (!document.getElementById('served-by').textContent.includes(%s)) return 'served by: ' + document.getElementById('served-by').textContent;
		return document.getElementById('self-health').textContent === 'healthy' ? '' : 'health badge: ' + document.getElementById('self-health').textContent;
	})()`, js(follower.Name), js(follower.Name)))
	b.screenshot("members")

	// A key created in the page is what etcdctl reads.
	b.run("create a key",
		chromedp.SetValue(chromedp.ID("create-key"), "/dash/created"),
		chromedp.SetValue(chromedp.ID("create-value"), "made in the page"),
		chromedp.Click(chromedp.ID("create-submit")))
	b.waitFor("the create", 15*time.Second, msgContains("Created /dash/created"))
	if got := mustEtcdctl(t, all, "get", "/dash/created"); got != "made in the page\n" {
		t.Fatalf("etcdctl get /dash/created: %q", got)
	}
	b.waitFor("the new key in the tree and its details", 10*time.Second, `(() => {
		if (!document.querySelector('#tree li[data-key="/dash/created"]')) return 'not in the tree';
		return document.getElementById('detail-key').textContent === '/dash/created' ? '' : 'detail: ' + document.getElementById('detail-key').textContent;
	})()`)
	b.screenshot("created")

	// An edit is a compare-and-swap on the index shown.
	b.run("edit the key",
		chromedp.SetValue(chromedp.ID("detail-value"), "edited in the page"),
		chromedp.Click(chromedp.ID("detail-save")))
	b.waitFor("the save", 15*time.Second, msgContains("Saved /dash/created"))
	if got := mustEtcdctl(t, all, "get", "/dash/created"); got != "edited in the page\n" {
		t.Fatalf("etcdctl get after the edit: %q", got)
	}
	// The page shows the index etcdctl sees.
	var node struct {
		Node struct {
			ModifiedIndex uint64 `json:"modifiedIndex"`
		} `json:"node"`
	}
	if err := json.Unmarshal([]byte(mustEtcdctl(t, all, "-o", "json", "get", "/dash/created")), &node); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the index after the edit", 10*time.Second, fmt.Sprintf(`(() => {
		const shown = document.getElementById('detail-modified').textContent;
		return shown === %s ? '' : 'shown: ' + shown;
	})()`, js(strconv.FormatUint(node.Node.ModifiedIndex, 10))))
	// etcdctl changes the key behind the page's back: the page's next edit is refused.
	mustEtcdctl(t, all, "set", "/dash/created", "changed by etcdctl")
	b.run("a stale edit",
		chromedp.SetValue(chromedp.ID("detail-value"), "stale edit"),
		chromedp.Click(chromedp.ID("detail-save")))
	b.waitFor("the stale edit's refusal", 15*time.Second, msgContains("Compare failed"))
	if got := mustEtcdctl(t, all, "get", "/dash/created"); got != "changed by etcdctl\n" {
		t.Fatalf("etcdctl get after the stale edit: %q", got)
	}
	b.screenshot("stale-edit-refused")

	// Selecting the key again shows the new index; then it is deleted.
	b.run("select the key", chromedp.Click(chromedp.CSS(`#tree li[data-key="/dash/created"] > .name`)))
	b.waitFor("the current value", 10*time.Second, `document.getElementById('detail-value').value === 'changed by etcdctl' ? '' : 'value: ' + document.getElementById('detail-value').value`)
	b.run("delete the key",
		chromedp.Click(chromedp.ID("detail-delete")),
		chromedp.Click(chromedp.ID("detail-delete-confirm")))
	b.waitFor("the delete", 15*time.Second, msgContains("Deleted /dash/created"))
	if out, errs, rc := etcdctl(t, all, "get", "/dash/created"); rc == 0 || !strings.Contains(errs, "Key not found") {
		t.Fatalf("etcdctl get after the delete: exit %d %q %q", rc, out, errs)
	}

	// A key written with etcdctl arrives in the live watch of its prefix.
	b.run("watch /watched",
		chromedp.SetValue(chromedp.ID("watch-key"), "/watched"),
		chromedp.Click(chromedp.ID("watch-start")))
	b.waitFor("the watch to start", 15*time.Second, `document.getElementById('watch-state').dataset.state === 'watching' ? '' : 'state: ' + document.getElementById('watch-state').textContent`)
	mustEtcdctl(t, leader.ClientURL(), "set", "/watched/from-etcdctl", "seen live")
	mustEtcdctl(t, leader.ClientURL(), "set", "/elsewhere", "not watched")
	mustEtcdctl(t, leader.ClientURL(), "rm", "/watched/from-etcdctl")
	b.waitFor("the events in the watch", 15*time.Second, `(() => {
		const items = [...document.querySelectorAll('#watch-events li')];
		const got = items.map((li) => li.dataset.action + ' ' + li.dataset.key).reverse().join('; ');
		return got === 'set /watched/from-etcdctl; delete /watched/from-etcdctl' ? '' : 'events: ' + got;
	})()`)
	if ev := b.text("watch-events"); !strings.Contains(ev, "= seen live") {
		t.Fatalf("watch events without the value: %q", ev)
	}
	b.screenshot("watch")

	// The leader dies: the page shows it offline and another member leading.
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	newLeader, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	after := map[string]string{leader.Name: "Offline"}
	for _, n := range c.Followers(leader) {
		after[n.Name] = "Online"
	}
	b.waitFor("the killed leader offline", 45*time.Second, membersState([]string{"n1", "n2", "n3"}, after, newLeader.Name))
	b.waitFor("the death in the health history", 5*time.Second, fmt.Sprintf(`(() => {
		const row = document.querySelector('#members tr[data-member=%s]');
		return row.querySelector('.history .h-Offline') && row.querySelector('.history .h-Online') ? '' : 'no Online then Offline history';
	})()`, js(leader.Name)))
	b.screenshot("leader-killed")
	b.checkConsole()
}
