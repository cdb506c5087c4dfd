// Command cairn-operator runs the CairnCluster controller. It reaches the API server as every
// controller-runtime manager does (--kubeconfig, KUBECONFIG, in-cluster), watches one namespace
// with --namespace (all when empty), and runs one active replica through leader election.
package main

import (
	"flag"
	"os"

	cairnv1 "github.com/cairn-io/cairn/operator/api/v1alpha1"
	"github.com/cairn-io/cairn/operator/internal/controller"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	var namespace, metricsAddr, probeAddr string
	var leaderElect bool
	flag.StringVar(&namespace, "namespace", "", "watch CairnClusters in this namespace only (all namespaces when empty)")
	flag.BoolVar(&leaderElect, "leader-elect", true, "run one active operator at a time through a Lease")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "the operator's own metrics (0 disables)")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz of the operator")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("cairn-operator")

	scheme := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(scheme))
	must(cairnv1.AddToScheme(scheme))
	mopts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "cairn-operator.cairn.io",
		Client:                 controller.ClientOptions(),
	}
	if namespace != "" {
		mopts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}}
		mopts.LeaderElectionNamespace = namespace
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mopts)
	if err != nil {
		log.Error(err, "starting the manager")
		os.Exit(1)
	}
	r := &controller.Reconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorderFor("cairn-operator")}
	if err := r.SetupWithManager(mgr); err != nil {
		log.Error(err, "setting up the controller")
		os.Exit(1)
	}
	must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	must(mgr.AddReadyzCheck("readyz", healthz.Ping))
	log.Info("starting", "namespace", namespace, "leaderElection", leaderElect)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func must(err error) {
	if err != nil {
		ctrl.Log.Error(err, "setup")
		os.Exit(1)
	}
}
