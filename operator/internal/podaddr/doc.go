// Package podaddr resolves the addresses a member advertises (access, alternate access, fabric)
// from what Kubernetes knows of its pod: the pod IP, its Node's addresses, a Multus
// network-status annotation, or its own LoadBalancer or NodePort Service.
//
// It owns that resolution and the runtime file cairnd reads, for cairn-k8s-init and for the
// operator alike; it must never change an object in the API server.
package podaddr
