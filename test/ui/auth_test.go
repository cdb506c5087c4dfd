package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	"github.com/cairn-io/cairn/test/procs"
)

// signIn fills the sign-in form and submits it.
func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.run("sign in as "+user,
		chromedp.SetValue(chromedp.ID("login-user"), user),
		chromedp.SetValue(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")))
}

const signInShown = `(() => {
	if (document.getElementById('login-panel').hidden) return 'no sign-in form';
	return document.getElementById('main').hidden ? '' : 'the dashboard shows without credentials';
})()`

// TestDashboardAuthOverTLS serves the dashboard over https with auth on: the page asks for
// credentials, refuses a wrong password, lets a user without the root role look but not write
// (the server refuses; etcdctl finds nothing), and lets root write what etcdctl then reads.
func TestDashboardAuthOverTLS(t *testing.T) {
	set := tlstest.NewSet(t, "ui-test")
	n := procs.StartNode(t, procs.Options{TLS: &procs.TLS{Client: true, ClientConfig: set.ClientConfig(t),
		Args: []string{"--cert-file", set.CertFile, "--key-file", set.KeyFile}}})
	if !strings.HasPrefix(n.ClientURL(), "https://") {
		t.Fatalf("client URL %s", n.ClientURL())
	}
	ep := n.ClientURL()
	ca := []string{"--ca-file", set.CAFile}
	for _, args := range [][]string{
		{"user", "add", "root:rootpw"},
		{"user", "add", "alice:alicepw"},
		{"role", "add", "app"},
		{"role", "grant", "app", "--path", "/app/*", "--readwrite"},
		{"user", "grant", "alice", "--roles", "app"},
		{"auth", "enable"},
	} {
		mustEtcdctl(t, ep, append(ca, args...)...)
	}
	asRoot := append(ca, "--username", "root:rootpw")

	b := newBrowser(t, true)
	b.run("open the dashboard", chromedp.Navigate(ep+"/ui/"))
	b.waitFor("the sign-in form", 20*time.Second, signInShown)
	if proto, err := b.eval(`location.protocol`); err != nil || proto != "https:" {
		t.Fatalf("page protocol %q: %v", proto, err)
	}
	b.screenshot("sign-in")

	b.signIn("root", "wrong")
	b.waitFor("the refusal of a wrong password", 15*time.Second, `(() => {
		const e = document.getElementById('login-error').textContent;
		return e.includes('Sign-in refused') && !document.getElementById('login-panel').hidden ? '' : 'login error: ' + e;
	})()`)

	// A user without the root role sees the cluster, but the server refuses the page's writes
	// even on keys the user may write with etcdctl.
	b.signIn("alice", "alicepw")
	b.waitFor("the dashboard for alice", 20*time.Second, `(() => {
		if (document.getElementById('main').hidden) return 'still signing in';
		if (document.getElementById('user').textContent !== 'signed in as alice') return 'user: ' + document.getElementById('user').textContent;
		return document.querySelectorAll('#members tbody tr[data-status=Online]').length === 1 ? '' : 'no member online';
	})()`)
	b.run("create a key as alice",
		chromedp.SetValue(chromedp.ID("create-key"), "/app/by-alice"),
		chromedp.SetValue(chromedp.ID("create-value"), "should not be written"),
		chromedp.Click(chromedp.ID("create-submit")))
	b.waitFor("the refusal of alice's write", 15*time.Second, msgContains("need the root role"))
	if msg := b.text("msg"); strings.Contains(msg, "should not be written") {
		t.Fatalf("the refusal shows the value: %q", msg)
	}
	if out, errs, rc := etcdctl(t, ep, append(asRoot, "get", "/app/by-alice")...); rc == 0 || !strings.Contains(errs, "Key not found") {
		t.Fatalf("etcdctl get /app/by-alice after the refusal: exit %d %q %q", rc, out, errs)
	}
	mustEtcdctl(t, ep, append(ca, "--username", "alice:alicepw", "set", "/app/by-alice-etcdctl", "allowed")...)
	// Alice may not list the root, but opens /app/ (her grant is /app/*) and reads what
	// etcdctl wrote there.
	b.run("open /app/ as alice",
		chromedp.SetValue(chromedp.ID("open-key"), "/app/"),
		chromedp.Click(chromedp.ID("open-submit")))
	b.waitFor("/app's children for alice", 10*time.Second, `(() => {
		if (!document.getElementById('tree').textContent.includes('Cannot list /')) return 'tree: ' + document.getElementById('tree').textContent;
		return document.querySelector('#detail-children li[data-key="/app/by-alice-etcdctl"]') ? '' : 'children: ' + document.getElementById('detail-children').textContent;
	})()`)
	b.run("select alice's key", chromedp.Click(chromedp.CSS(`#detail-children li[data-key="/app/by-alice-etcdctl"] > .name`)))
	b.waitFor("alice's key", 10*time.Second, `document.getElementById('detail-value').value === 'allowed' ? '' : 'value: ' + document.getElementById('detail-value').value`)
	// A watch alice may not read is refused once, not retried for ever.
	b.run("watch / as alice",
		chromedp.SetValue(chromedp.ID("watch-key"), "/"),
		chromedp.Click(chromedp.ID("watch-start")))
	b.waitFor("the refused watch", 10*time.Second, `(() => {
		const s = document.getElementById('watch-state');
		if (s.dataset.state !== 'refused' || !s.textContent.includes('110')) return 'watch state: ' + s.textContent;
		return document.getElementById('watch-start').disabled ? 'the watch still runs' : '';
	})()`)
	b.screenshot("non-root-refused")

	// Signing out asks again; root may write.
	b.run("sign out", chromedp.Click(chromedp.ID("logout")))
	b.waitFor("the sign-in form after signing out", 10*time.Second, signInShown)
	b.signIn("root", "rootpw")
	b.waitFor("the dashboard for root", 20*time.Second, `document.getElementById('user').textContent === 'signed in as root' && !document.getElementById('main').hidden ? '' : 'not signed in'`)
	b.run("create a key as root",
		chromedp.SetValue(chromedp.ID("create-key"), "/app/by-root"),
		chromedp.SetValue(chromedp.ID("create-value"), "root was here"),
		chromedp.Click(chromedp.ID("create-submit")))
	b.waitFor("root's create", 15*time.Second, msgContains("Created /app/by-root"))
	if got := mustEtcdctl(t, ep, append(asRoot, "get", "/app/by-root")...); got != "root was here\n" {
		t.Fatalf("etcdctl get /app/by-root: %q", got)
	}
	b.waitFor("alice's etcdctl key in the tree", 10*time.Second, `(() => {
		document.getElementById('tree-refresh').click();
		return document.querySelector('#tree li[data-key="/app/by-alice-etcdctl"]') ? '' : 'not in the tree';
	})()`)
	b.screenshot("root")
	b.checkConsole()
}
