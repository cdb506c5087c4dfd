package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cairn-io/cairn/internal/backup"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/server"
	"github.com/hashicorp/raft"
)

// RestoreConfig names the member of a new cluster whose data directory a backup becomes: the
// same flags the member will start with.
type RestoreConfig struct {
	DataDir                  string
	Name                     string
	InitialCluster           string
	InitialAdvertisePeerURLs []string
	InitialClusterToken      string
}

// ErrDataDirInUse: restore writes only into a missing or empty data directory.
var ErrDataDirInUse = errors.New("data directory is not empty")

// Restore makes rc.DataDir from a backup file image: a data directory from which cairnd,
// started with the same --name, --initial-cluster and --initial-cluster-token, joins a new
// cluster whose state is exactly the backup's. Every member of the new cluster is restored
// from the same file. The old cluster's member table is left behind (the new members publish
// themselves, as in any new cluster); the keys, their indexes and TTLs are kept.
func Restore(file []byte, rc RestoreConfig) (backup.Info, error) {
	cfg := Config{Name: rc.Name, DataDir: rc.DataDir, InitialCluster: rc.InitialCluster,
		InitialAdvertisePeerURLs: rc.InitialAdvertisePeerURLs, InitialClusterToken: rc.InitialClusterToken}
	if len(cfg.InitialAdvertisePeerURLs) > 0 {
		cfg.ListenPeerURLs = cfg.InitialAdvertisePeerURLs
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return backup.Info{}, err
	}
	if entries, err := os.ReadDir(cfg.DataDir); err == nil && len(entries) > 0 {
		return backup.Info{}, fmt.Errorf("--data-dir %s: %w", cfg.DataDir, ErrDataDirInUse)
	}
	f, info, err := backup.Decode(file)
	if err != nil {
		return info, err
	}
	applied := max(f.AppliedIndex(), 1)
	for _, m := range f.Members() {
		cmd := &fsm.Command{Type: fsm.CmdMemberRemove, Member: &fsm.Member{ID: m.ID}}
		if res, ok := f.Apply(&raft.Log{Index: applied, Data: cmd.Marshal()}).(*fsm.Result); !ok || res.Err != nil {
			return info, fmt.Errorf("dropping the old member table: %v", res)
		}
	}

	cluster, _ := ParseInitialCluster(cfg.InitialCluster)
	var servers []raft.Server
	var ids []uint64
	for _, urls := range cluster {
		mid := staticMemberID(urls, cfg.InitialClusterToken)
		ids = append(ids, mid)
		addr, err := hostPort(urls[0])
		if err != nil {
			return info, err
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(server.MemberIDString(mid)), Address: raft.ServerAddress(addr)})
	}
	id := &identity{Name: cfg.Name, MemberID: staticMemberID(cluster[cfg.Name], cfg.InitialClusterToken),
		ClusterID: staticClusterID(ids, cfg.InitialClusterToken)}

	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return info, fmt.Errorf("--data-dir: %v", err)
	}
	snaps, err := raft.NewFileSnapshotStore(raftDir, 1, io.Discard)
	if err != nil {
		return info, err
	}
	// The snapshot store encodes the configuration's peers through a transport; nothing is sent.
	_, trans := raft.NewInmemTransport("")
	sink, err := snaps.Create(raft.SnapshotVersionMax, applied, 1, raft.Configuration{Servers: servers}, applied, trans)
	if err != nil {
		return info, err
	}
	snap, err := f.Snapshot()
	if err != nil {
		_ = sink.Cancel()
		return info, err
	}
	defer snap.Release()
	if err := snap.Persist(sink); err != nil {
		return info, fmt.Errorf("writing the raft snapshot: %v", err)
	}
	if err := id.save(cfg.DataDir); err != nil {
		return info, fmt.Errorf("saving member identity: %v", err)
	}
	return info, nil
}
