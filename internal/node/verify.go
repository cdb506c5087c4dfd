package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/internal/server"
)

// ErrClusterNameMismatch: a member answered with another --cluster-name than this node's.
var ErrClusterNameMismatch = errors.New("cluster name mismatch")

// verifyPeers refuses to start next to members of another cluster: a node started with another
// --initial-cluster-token, or whose data directory belongs to another cluster, computes or keeps
// a different cluster id; a node started with another --cluster-name than the members' is
// refused too (a name left empty on either side is no mismatch: members of earlier builds send
// none). Peers that do not answer yet are skipped; they run the same check when they start.
func verifyPeers(ctx context.Context, client *http.Client, self, clusterName string, clusterID uint64, peers map[string][]string) error {
	for name, urls := range peers {
		if name == self {
			continue
		}
		for _, u := range urls {
			pc, err := fetchPeerCluster(ctx, client, u)
			if err != nil {
				continue
			}
			theirs, err := strconv.ParseUint(pc.ClusterID, 16, 64)
			if err != nil {
				return fmt.Errorf("member %s at %s sent cluster id %q: %v", name, u, pc.ClusterID, err)
			}
			if theirs != clusterID {
				return fmt.Errorf("%w: member %s at %s belongs to cluster %s, this node to cluster %s; check --initial-cluster-token and --initial-cluster, or remove a data directory that belongs to another cluster",
					server.ErrClusterIDMismatch, name, u, pc.ClusterID, server.MemberIDString(clusterID))
			}
			if clusterName != "" && pc.ClusterName != "" && pc.ClusterName != clusterName {
				return fmt.Errorf("%w: member %s at %s belongs to the cluster named %q, this node was started with --cluster-name %q",
					ErrClusterNameMismatch, name, u, pc.ClusterName, clusterName)
			}
		}
	}
	return nil
}

const verifyTimeout = 2 * time.Second
