package node

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/server"
)

// identity is what a node must remember across restarts to stay the same member of the same
// cluster.
type identity struct {
	Name      string `json:"name"`
	MemberID  uint64 `json:"memberID"`
	ClusterID uint64 `json:"clusterID"`
}

const identityFile = "member.json"

func loadIdentity(dir string) (*identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", filepath.Join(dir, identityFile), err)
	}
	return &id, nil
}

// save writes the identity durably: a crash leaves the old file or the new one, never half.
func (id *identity) save(dir string) error {
	b, _ := json.Marshal(id)
	tmp := filepath.Join(dir, identityFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, identityFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// staticMemberID is the id every member of a statically bootstrapped cluster computes for a
// member from the same flags, so they agree without talking.
func staticMemberID(peerURLs []string, token string) uint64 {
	urls := slices.Clone(peerURLs)
	sort.Strings(urls)
	sum := sha1.Sum([]byte(strings.Join(urls, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

// staticClusterID depends on every member and on the token, so two clusters started with
// different tokens (or members) never take each other's nodes.
func staticClusterID(memberIDs []uint64, token string) uint64 {
	ids := slices.Clone(memberIDs)
	slices.Sort(ids)
	b := make([]byte, 8*len(ids), 8*len(ids)+len(token))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(append(b, token...))
	return binary.BigEndian.Uint64(sum[:8])
}

// joinIdentity learns the cluster id and this node's member id from the running members, after
// `member add` registered this node's peer URLs (etcd's join flow). A member added under
// placeholder URLs (registered) first sets its own through the member API, for the leader
// reaches it only at those.
func joinIdentity(ctx context.Context, client *http.Client, peers, myPeerURLs, registered []string, name string) (*identity, error) {
	var lastErr error
	for {
		for _, p := range peers {
			pc, err := fetchPeerCluster(ctx, client, p)
			if err != nil {
				lastErr = err
				continue
			}
			cid, err := strconv.ParseUint(pc.ClusterID, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("member %s sent cluster id %q: %v", p, pc.ClusterID, err)
			}
			mid, placeholder, err := findSelf(pc.Members, myPeerURLs, registered)
			if err != nil {
				return nil, fmt.Errorf("member %s: %v", p, err)
			}
			if mid != 0 && placeholder {
				if err := server.UpdateOwnPeerURLs(ctx, client, peers, cid, mid, myPeerURLs); err != nil {
					return nil, fmt.Errorf("cannot join with --initial-cluster-state existing: %v", err)
				}
			}
			if mid != 0 {
				return &identity{Name: name, MemberID: mid, ClusterID: cid}, nil
			}
			// A member that has not applied the `member add` yet answers without us; another
			// member, or this one a moment later, will know.
			lastErr = fmt.Errorf("cluster %s (asked %s) has no member with peer URL %s: add it first with `etcdctl member add %s --peer-urls=%s`",
				pc.ClusterID, p, strings.Join(append(slices.Clone(myPeerURLs), registered...), ","), name, strings.Join(myPeerURLs, ","))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot join with --initial-cluster-state existing: %v", lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findSelf finds this member among members by its own peer URLs, or else by the placeholder
// URLs it was registered under (placeholder true); 0 when neither is there yet.
func findSelf(members []api.Member, mine, registered []string) (id uint64, placeholder bool, err error) {
	for i, urls := range [][]string{mine, registered} {
		for _, m := range members {
			if slices.ContainsFunc(m.PeerURLs, func(u string) bool { return slices.Contains(urls, u) }) {
				id, err := strconv.ParseUint(m.ID, 16, 64)
				return id, i == 1, err
			}
		}
	}
	return 0, false, nil
}

func fetchPeerCluster(ctx context.Context, client *http.Client, peerURL string) (*httpapi.PeerCluster, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, strings.TrimSuffix(peerURL, "/")+server.ClusterPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", peerURL, resp.Status)
	}
	var pc httpapi.PeerCluster
	if err := json.Unmarshal(body, &pc); err != nil {
		return nil, fmt.Errorf("%s: %v", peerURL, err)
	}
	return &pc, nil
}
