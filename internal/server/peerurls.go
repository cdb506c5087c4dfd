package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
)

// UpdateOwnPeerURLs sets member id's peer URLs to urls through the member API of the peer
// ports at peers, asking each in turn until the leader among them has done it. A member whose
// address the cluster does not know (registered under a placeholder before its address was
// known, or back on another address) calls it itself: the leader cannot reach it before.
func UpdateOwnPeerURLs(ctx context.Context, client *http.Client, peers []string, clusterID, id uint64, urls []string) error {
	body, err := json.Marshal(api.MemberCreateRequest{PeerURLs: urls})
	if err != nil {
		return err
	}
	lastErr := fmt.Errorf("no member to ask")
	for {
		for _, p := range peers {
			err := putPeerURLs(ctx, client, p, clusterID, id, body)
			if err == nil {
				return nil
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("updating member %s's peer URLs to %s: %v", MemberIDString(id), strings.Join(urls, ","), lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func putPeerURLs(ctx context.Context, client *http.Client, peer string, clusterID, id uint64, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPut,
		strings.TrimSuffix(peer, "/")+"/v2/members/"+MemberIDString(id), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Etcd-Cluster-Id", strconv.FormatUint(clusterID, 16))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent {
		// A follower answers 503: only the leader changes membership.
		return fmt.Errorf("%s: %s: %s", peer, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// stalePeerURLs reports whether the membership this member knows holds other peer URLs for it
// than it advertises, and the other members' peer URLs to ask for the change. It reads the raft
// configuration, which a restarting member has from its log before the leader reaches it.
func (s *Server) stalePeerURLs() (own, others []string, stale bool) {
	for _, m := range s.Members() {
		if m.ID == s.cfg.MemberID {
			own = m.PeerURLs
		} else {
			others = append(others, m.PeerURLs...)
		}
	}
	stale = len(own) > 0 && len(others) > 0 && !slices.Equal(own, s.cfg.PeerURLs)
	return own, others, stale
}
