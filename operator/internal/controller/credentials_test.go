package controller

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	cairn "github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A real member over TLS with auth on, reached as connect() reaches members: the CA and root's
// password come from the Secrets the spec names, and the member's certificate must be valid
// for the cluster's peer names (*.<name>-headless.<ns>.svc), not for the address dialled.
func TestOperatorReachesMembersWithTLSAndRoot(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	set := tlstest.NewSet(t, "operator")
	wildcard := "*.c-headless." + ns + ".svc"
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}),
		testcluster.WithConfig(func(_ int, cfg *node.Config) {
			// 127.0.0.1 too, for the test cluster's own helpers (EnableAuth) that dial it.
			pair := set.CA.Issue(t, tlstest.Leaf{CN: "member", Hosts: []string{wildcard, "127.0.0.1"}, ServerOnly: true})
			cfg.ClientTLS.CertFile, cfg.ClientTLS.KeyFile = pair.Write(t, set.Dir, "member")
			// As the operator's pods run it: TLS, but no client certificates asked for.
			cfg.ClientTLS.ClientCertAuth = false
			cfg.ClusterName = "c"
		}))
	c.WaitLeader(t)
	c.EnableAuth(t, "s3cret-root")

	for name, data := range map[string]map[string][]byte{
		"tls":      {SecretCAKey: set.CA.CertPEM},
		"root":     {SecretPasswordKey: []byte("s3cret-root")},
		"badroot":  {SecretPasswordKey: []byte("not-it")},
		"nopasswd": {"other": []byte("x")},
	} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	r := &Reconciler{Client: k8s}
	u, err := url.Parse(c.Members[0].ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	host := cairn.NewHost("127.0.0.1", port)
	cluster := func(name, rootSecret string) *cairnv1.CairnCluster {
		cc := baseCluster()
		cc.Name, cc.Namespace = name, ns
		cc.Spec.ClusterName = ""
		cc.Spec.TLS = &cairnv1.TLSSpec{SecretName: "tls"}
		cc.Spec.Auth = &cairnv1.AuthSpec{RootSecretName: rootSecret}
		return cc
	}
	dial := func(cc *cairnv1.CairnCluster) error {
		def, err := r.definition(ctx, cc, []cairn.Host{host}, memberTLSName(cc))
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cl, err := def.WithSystemSettings(cairn.SystemSettings{Timeout: 3 * time.Second}).FailIfNotConnected(true).Connect(cctx)
		if err != nil {
			return err
		}
		defer cl.Close()
		_, err = cl.Members().All(cctx)
		return err
	}

	if err := dial(cluster("c", "root")); err != nil {
		t.Fatalf("TLS with the Secret's CA and root's password: %v", err)
	}
	if err := dial(cluster("c", "badroot")); err == nil || !errors.Is(err, cairn.ErrUnauthorized) {
		t.Fatalf("a wrong root password: %v, want ErrUnauthorized", err)
	} else if strings.Contains(err.Error(), "not-it") {
		t.Fatalf("the refusal carries the password: %v", err)
	}
	// Another CairnCluster's name: the member's certificate is not for its peer names.
	if err := dial(cluster("other", "root")); !errors.Is(err, cairn.ErrTLSVerification) {
		t.Fatalf("a certificate for another cluster's names: %v, want ErrTLSVerification", err)
	}
	for _, cc := range []*cairnv1.CairnCluster{cluster("c", "nopasswd"), cluster("c", "absent")} {
		_, err := r.definition(ctx, cc, []cairn.Host{host}, memberTLSName(cc))
		if !errors.Is(err, errSecret) || !strings.Contains(err.Error(), cc.Spec.Auth.RootSecretName) {
			t.Fatalf("secret %s: %v, want errSecret naming it", cc.Spec.Auth.RootSecretName, err)
		}
	}
}
