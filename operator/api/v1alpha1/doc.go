// Package v1alpha1 holds the CairnCluster API (group cairn.io, version v1alpha1): the spec a
// user writes, the status the operator reports, and the schema rules the API server enforces.
//
// It owns the shape of the custom resource and its validation markers only: it must never hold
// reconciling logic or talk to an API server.
//
// +kubebuilder:object:generate=true
// +groupName=cairn.io
package v1alpha1
