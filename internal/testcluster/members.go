package testcluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
)

// AddMember runs etcd's join flow: `member add` through member via, then a new node started
// with --initial-cluster-state existing. It returns the new member once its node runs. It grows
// c.Members, so goroutines that run meanwhile must work on their own copy of the slice.
func (c *Cluster) AddMember(t testing.TB, via int, learner bool) *Member {
	t.Helper()
	return c.AddMemberRegisteredAs(t, via, learner, nil)
}

// AddMemberRegisteredAs is AddMember where `member add` registers placeholder peer URLs, as
// an orchestrator does before it knows the member's address; the new node, started with
// --registered-peer-urls, sets its real ones itself. nil registers the real ones.
func (c *Cluster) AddMemberRegisteredAs(t testing.TB, via int, learner bool, registered []string) *Member {
	t.Helper()
	clientLn := mustListen(t, "127.0.0.1:0")
	peerLn := mustListen(t, "127.0.0.1:0")
	idx := len(c.Members)
	m := &Member{Index: idx, Name: fmt.Sprintf("n%d", idx+1),
		ClientURL: c.clientScheme() + "://" + clientLn.Addr().String(),
		PeerURL:   c.peerScheme() + "://" + peerLn.Addr().String(),
		DataDir:   filepath.Join(t.TempDir(), fmt.Sprintf("n%d", idx+1))}
	c.net.register(peerLn.Addr().String(), idx)

	add := registered
	if add == nil {
		add = []string{m.PeerURL}
	}
	added, err := c.MemberAdd(via, add, learner)
	if err != nil {
		t.Fatalf("member add: %v", err)
	}
	if !slices.Equal(added.PeerURLs, add) {
		t.Fatalf("member add answered %+v", added)
	}
	var initial []string
	for _, o := range c.Members {
		initial = append(initial, o.Name+"="+o.PeerURL)
	}
	initial = append(initial, m.Name+"="+m.PeerURL)
	c.mu.Lock()
	c.Members = append(c.Members, m)
	c.mu.Unlock()
	m.cfg = c.baseConfig(m, strings.Join(initial, ","), "existing")
	m.cfg.RegisteredPeerURLs = registered
	if c.opts.configure != nil {
		c.opts.configure(idx, &m.cfg)
	}
	if err := m.start(clientLn, peerLn); err != nil {
		t.Fatalf("starting joined member %s: %v", m.Name, err)
	}
	return m
}

// MemberAdd posts to /v2/members on member via.
func (c *Cluster) MemberAdd(via int, peerURLs []string, learner bool) (*api.Member, error) {
	body, _ := json.Marshal(api.MemberCreateRequest{PeerURLs: peerURLs, IsLearner: learner})
	resp, err := c.http.Post(c.member(via).ClientURL+"/v2/members", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var m api.Member
	return &m, json.Unmarshal(b, &m)
}

// MemberList reads /v2/members from member via.
func (c *Cluster) MemberList(via int) ([]api.Member, error) {
	resp, err := c.http.Get(c.member(via).ClientURL + "/v2/members")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ms api.Members
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, err
	}
	return ms.Members, nil
}

// MemberCall sends a membership request (DELETE /v2/members/id, POST .../promote) to member via.
func (c *Cluster) MemberCall(via int, method, path string) error {
	req, err := http.NewRequest(method, c.member(via).ClientURL+"/v2/members/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return nil
}

// WaitPublished waits until member via's member list names every member: each has published
// its attributes through the log.
func (c *Cluster) WaitPublished(t testing.TB, via int) {
	t.Helper()
	CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		ms, err := c.MemberList(via)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Name == "" {
				return fmt.Errorf("member %s has not published its name", m.ID)
			}
		}
		return nil
	})
}

// MemberID finds a member's id in the cluster's own member list.
func (c *Cluster) MemberID(t testing.TB, via int, name string) string {
	t.Helper()
	var id string
	CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		ms, err := c.MemberList(via)
		if err != nil {
			return err
		}
		want := c.memberByName(name).PeerURL
		for _, m := range ms {
			for _, u := range m.PeerURLs {
				if u == want {
					id = m.ID
					return nil
				}
			}
		}
		return fmt.Errorf("%s not in %+v", name, ms)
	})
	return id
}

func (c *Cluster) memberByName(name string) *Member {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}
