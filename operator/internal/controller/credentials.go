package controller

import (
	"context"
	"errors"
	"fmt"

	cairn "github.com/cairn-io/cairn/client"
	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/names"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The keys the operator reads from the Secrets a CairnCluster names.
const (
	SecretCAKey       = "ca.crt"
	SecretPasswordKey = "password"
	// rootUser is etcd's and Cairn's built-in administrator, the one user allowed member changes.
	rootUser = "root"
)

// errSecret is a Secret the spec names that is missing or lacks a key; the message names the
// Secret and the key, never a value.
var errSecret = errors.New("secret")

// memberTLSName is the name the operator expects in every member's certificate: the members'
// peer names (<pod>.<name>-headless.<ns>.svc) must be in the certificate anyway, as members
// dial each other by them over mutual TLS, so a certificate for *.<name>-headless.<ns>.svc
// serves both. The first pod's name stands for all of them.
func memberTLSName(cc *cairnv1.CairnCluster) string {
	first := names.Layout(cc.Name, rackIDs(cc), 1)[0]
	return names.PeerHost(first.Pod, cc.Name, cc.Namespace)
}

// definition is how the operator reaches the members at hosts: over TLS with the CA of
// spec.tls's Secret, logged in as root with spec.auth's password, and only to a cluster of the
// expected name.
func (r *Reconciler) definition(ctx context.Context, cc *cairnv1.CairnCluster, hosts []cairn.Host, tlsName string) (*cairn.ClusterDefinition, error) {
	def := cairn.NewClusterDefinitionHosts(hosts...).ValidateClusterNameIs(clusterName(cc))
	if t := cc.Spec.TLS; t != nil {
		ca, err := r.secretKey(ctx, cc.Namespace, t.SecretName, SecretCAKey)
		if err != nil {
			return nil, err
		}
		def = def.WithTLSConfigOf().CAPEM(ca).TLSName(tlsName).Done()
	}
	if a := cc.Spec.Auth; a != nil {
		pw, err := r.secretKey(ctx, cc.Namespace, a.RootSecretName, SecretPasswordKey)
		if err != nil {
			return nil, err
		}
		def = def.WithNativeCredentials(rootUser, string(pw))
	}
	return def, nil
}

// secretKey reads one key of a Secret straight from the API server: Secrets stay out of the
// manager's cache (ClientOptions), so the operator needs only get on them.
func (r *Reconciler) secretKey(ctx context.Context, namespace, name, key string) ([]byte, error) {
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("%w %s/%s: %v", errSecret, namespace, name, err)
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("%w %s/%s has no key %q", errSecret, namespace, name, key)
	}
	return v, nil
}
