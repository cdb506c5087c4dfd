package quorum

import (
	"errors"
	"strings"
	"sync"
)

// memSource is an in-memory Source for tests: the node that will implement Source for
// real is being built elsewhere. Tests set its state directly.
type memSource struct {
	mu        sync.Mutex
	name      string
	index     uint64
	kv        map[string]string
	modified  map[string]uint64
	leader    string
	leaderURL string
	members   []Member
}

func newMemSource(name string, index uint64) *memSource {
	return &memSource{name: name, index: index, kv: map[string]string{}, modified: map[string]uint64{}}
}

func (m *memSource) set(key, value string, modified uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key], m.modified[key] = value, modified
}

func (m *memSource) Name() string { return m.name }

func (m *memSource) AppliedIndex() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.index
}

func (m *memSource) GetKey(key string) (string, uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.HasSuffix(key, "/") {
		return "", 0, false, errors.New("not a file: " + key)
	}
	v, ok := m.kv[key]
	return v, m.modified[key], ok, nil
}

func (m *memSource) Leader() (string, string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader, m.leaderURL, m.leader != ""
}

func (m *memSource) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Member(nil), m.members...)
}
