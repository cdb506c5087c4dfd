// Package client is Cairn's Go SDK: a cluster-aware client that learns every member from a few
// seeds, keeps tending the member list, sends writes straight to the leader and reads to a
// preferred rack, and maps every etcd v2 error code to a typed error that works with errors.Is.
//
//	cluster, err := client.NewClusterDefinition("127.0.0.1", 2379).
//		PreferringRacks(1, 2).
//		ValidateClusterNameIs("prod").
//		Connect(ctx)
//	defer cluster.Close()
//	s := cluster.CreateSession(client.DefaultBehavior)
//	_, err = s.Put(ctx, "/config/feature", "on", client.WithTTL(time.Minute))
//
// It owns the client side of the wire (api's types over HTTP) and nothing of the server: it must
// never import an internal package, so that applications can vendor it alone.
package client
