package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is cairn.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "cairn.io", Version: "v1alpha1"}

var (
	// SchemeBuilder registers CairnCluster and its list.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds this group's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&CairnCluster{}, &CairnClusterList{})
}
