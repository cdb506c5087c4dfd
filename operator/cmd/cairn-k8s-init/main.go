// Command cairn-k8s-init is the init container of every Cairn pod the operator makes. It
// resolves the addresses the member advertises (access, alternate access and fabric) from the
// Kubernetes API and writes them, with the member's initial cluster, to the file cairnd reads
// with --config-file.
//
// It finds the API server as controller-runtime does (--kubeconfig, KUBECONFIG, in-cluster)
// and asks it only when an address type needs it. It exits non-zero, naming what is missing,
// when an address cannot be resolved within --timeout, so that the pod goes to
// CrashLoopBackOff and the reason shows in its logs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cairn-io/cairn/operator/internal/names"
	"github.com/cairn-io/cairn/operator/internal/podaddr"
)

type options struct {
	output, accessType, alternateType, fabricType     string
	accessNetworks, alternateNetworks, fabricNetworks string
	podServiceType, headless                          string
	tls                                               bool
	timeout                                           time.Duration
	podName, namespace, podIP, hostIP, state, members string
}

func main() {
	var o options
	flag.StringVar(&o.output, "output", "/etc/cairn/runtime.yaml", "file to write for cairnd --config-file")
	flag.StringVar(&o.accessType, "access-type", podaddr.TypePod, "pod, hostInternal, hostExternal or configuredIP")
	flag.StringVar(&o.alternateType, "alternate-access-type", podaddr.TypePod, "pod, hostInternal, hostExternal or configuredIP")
	flag.StringVar(&o.fabricType, "fabric-type", podaddr.TypePod, "pod, hostInternal, hostExternal or configuredIP")
	flag.StringVar(&o.accessNetworks, "access-network-names", "", "Multus networks for configuredIP access (comma list)")
	flag.StringVar(&o.alternateNetworks, "alternate-access-network-names", "", "Multus networks for configuredIP alternate access (comma list)")
	flag.StringVar(&o.fabricNetworks, "fabric-network-names", "", "Multus networks for configuredIP fabric (comma list)")
	flag.StringVar(&o.podServiceType, "pod-service-type", "", "the pod's own Service type: ClusterIP, NodePort or LoadBalancer (empty: none)")
	flag.StringVar(&o.headless, "headless-service", "", "the cluster's headless Service, for the pod's stable peer name")
	flag.BoolVar(&o.tls, "tls", false, "members serve https")
	flag.DurationVar(&o.timeout, "timeout", 120*time.Second, "how long to wait for an address (a LoadBalancer's IP)")
	flag.Parse()
	o.podName, o.namespace = os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	o.podIP, o.hostIP = os.Getenv("POD_IP"), os.Getenv("HOST_IP")
	o.state, o.members = os.Getenv("INITIAL_CLUSTER_STATE"), os.Getenv("INITIAL_CLUSTER_MEMBERS")

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rt, err := resolve(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn-k8s-init:", err)
		os.Exit(1)
	}
	if err := rt.Write(o.output); err != nil {
		fmt.Fprintln(os.Stderr, "cairn-k8s-init: writing", o.output+":", err)
		os.Exit(1)
	}
	fmt.Printf("cairn-k8s-init: wrote %s\n%s", o.output, rt.Render())
}

func resolve(ctx context.Context, o options) (podaddr.Runtime, error) {
	if o.podName == "" || o.namespace == "" {
		return podaddr.Runtime{}, errors.New("POD_NAME and POD_NAMESPACE must be set (downward API)")
	}
	if o.headless == "" {
		return podaddr.Runtime{}, errors.New("--headless-service is required")
	}
	external := o.podServiceType == string(corev1.ServiceTypeLoadBalancer) || o.podServiceType == string(corev1.ServiceTypeNodePort)
	kinds := []string{o.accessType, o.alternateType, o.fabricType}
	needPod, needNode := false, false
	for _, t := range kinds {
		needPod = needPod || t == podaddr.TypeConfiguredIP || podaddr.NeedsNode(t)
		needNode = needNode || podaddr.NeedsNode(t)
	}
	var (
		c    client.Client
		pod  *corev1.Pod
		node *corev1.Node
	)
	if needPod || external {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return podaddr.Runtime{}, fmt.Errorf("no Kubernetes API: %v", err)
		}
		if c, err = client.New(cfg, client.Options{}); err != nil {
			return podaddr.Runtime{}, err
		}
	}
	if needPod {
		pod = &corev1.Pod{}
		if err := c.Get(ctx, key(o.namespace, o.podName), pod); err != nil {
			return podaddr.Runtime{}, fmt.Errorf("reading pod %s/%s: %v", o.namespace, o.podName, err)
		}
		if o.podIP == "" {
			o.podIP = pod.Status.PodIP
		}
	}
	if needNode {
		if pod.Spec.NodeName == "" {
			return podaddr.Runtime{}, fmt.Errorf("pod %s is not scheduled on a node", o.podName)
		}
		node = &corev1.Node{}
		if err := c.Get(ctx, key("", pod.Spec.NodeName), node); err != nil {
			return podaddr.Runtime{}, fmt.Errorf("reading node %s: %v", pod.Spec.NodeName, err)
		}
	}
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	access, err := podaddr.Host(o.accessType, pod, node, o.podIP, podaddr.SplitList(o.accessNetworks))
	if err != nil {
		return podaddr.Runtime{}, fmt.Errorf("access address: %v", err)
	}
	rt := podaddr.Runtime{AdvertiseClientURLs: podaddr.URL(scheme, access, names.ClientPort)}
	if external {
		host, port, err := waitServiceAddress(ctx, c, o)
		if err != nil {
			return podaddr.Runtime{}, err
		}
		rt.AdvertiseAlternateClientURLs = podaddr.URL(scheme, host, port)
	} else {
		alt, err := podaddr.Host(o.alternateType, pod, node, o.podIP, podaddr.SplitList(o.alternateNetworks))
		if err != nil {
			return podaddr.Runtime{}, fmt.Errorf("alternate access address: %v", err)
		}
		rt.AdvertiseAlternateClientURLs = podaddr.URL(scheme, alt, names.ClientPort)
	}
	// The stable name through the headless service: the peer URL with fabricType pod, and the
	// placeholder the operator registers a joining member under with the other types.
	stable := podaddr.URL(scheme, o.podName+"."+o.headless+"."+o.namespace+".svc", names.PeerPort)
	rt.InitialClusterState = "new"
	if o.state == "existing" {
		rt.InitialClusterState = "existing"
	}
	if o.fabricType == "" || o.fabricType == podaddr.TypePod {
		rt.InitialAdvertisePeerURLs = stable
	} else {
		fabric, err := podaddr.Host(o.fabricType, pod, node, o.podIP, podaddr.SplitList(o.fabricNetworks))
		if err != nil {
			return podaddr.Runtime{}, fmt.Errorf("fabric address: %v", err)
		}
		rt.InitialAdvertisePeerURLs = podaddr.URL(scheme, fabric, names.PeerPort)
		if rt.InitialClusterState == "existing" {
			rt.RegisteredPeerURLs = stable
		}
	}
	rt.InitialCluster = podaddr.InitialCluster(o.podName, rt.InitialAdvertisePeerURLs, rt.InitialClusterState, o.members)
	return rt, nil
}

// waitServiceAddress polls the pod's own Service until its LoadBalancer has an IP (or its node
// port is assigned), or the context ends.
func waitServiceAddress(ctx context.Context, c client.Client, o options) (string, int32, error) {
	name := names.PodService(o.podName)
	var (
		host    string
		port    int32
		lastErr error
	)
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		svc := &corev1.Service{}
		if err := c.Get(ctx, key(o.namespace, name), svc); err != nil {
			// A read the deadline cut short says nothing new: keep the reason seen before it.
			if ctx.Err() == nil || lastErr == nil {
				lastErr = fmt.Errorf("reading service %s/%s: %v", o.namespace, name, err)
			}
			return false, nil
		}
		h, p, err := podaddr.ServiceAddress(svc, o.hostIP, names.ClientPort)
		if err != nil {
			lastErr = err
			return false, nil
		}
		host, port = h, p
		return true, nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("no external address for %s within %s: %v", o.podName, o.timeout, lastErr)
	}
	return host, port, nil
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
