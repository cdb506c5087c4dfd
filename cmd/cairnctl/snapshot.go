package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/backup"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/spf13/cobra"
)

// newSnapshotCommand is online backup and restore, as etcdctl's snapshot save, status and
// restore do for etcd v3.
func newSnapshotCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Back up a running cluster, inspect a backup, restore one into a new cluster"}
	cmd.AddCommand(newSnapshotSaveCommand(g), newSnapshotStatusCommand(g), newSnapshotRestoreCommand(g))
	return cmd
}

func newSnapshotSaveCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "save FILE", Short: "Save a consistent snapshot of the running cluster into FILE", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
				info, err := saveSnapshot(ctx, c, args[0], cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), info)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Snapshot saved at %s: index %d, %d keys, %d bytes, sha256 %s\n",
					args[0], info.Index, info.Keys, info.Size, info.Checksum)
				return nil
			})
		}}
}

// saveSnapshot downloads into FILE.part, checks the checksum and the content, and only then
// puts the file in place: FILE is never a partial or damaged backup.
func saveSnapshot(ctx context.Context, c *client.Cluster, path string, stderr io.Writer) (backup.Info, error) {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return backup.Info{}, err
	}
	defer os.Remove(tmp)
	bar := newProgressBar(stderr)
	_, err = c.Snapshot(ctx, f, bar.update)
	bar.finish()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return backup.Info{}, fmt.Errorf("snapshot save: %w", err)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		return backup.Info{}, err
	}
	_, info, err := backup.Decode(b)
	if err != nil {
		return info, fmt.Errorf("snapshot save: the downloaded snapshot does not check: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return info, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return info, nil
}

func newSnapshotStatusCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{Use: "status FILE", Short: "Show a backup's index, key count, size and checksum", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			_, info, err := backup.Decode(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if g.output == "json" {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			return writeTable(cmd.OutOrStdout(), []string{"INDEX", "RAFT INDEX", "KEYS", "SIZE", "SHA256"},
				[][]string{{strconv.FormatUint(info.Index, 10), strconv.FormatUint(info.RaftIndex, 10),
					strconv.Itoa(info.Keys), strconv.FormatInt(info.Size, 10), info.Checksum}})
		}}
}

func newSnapshotRestoreCommand(g *globalFlags) *cobra.Command {
	var rc node.RestoreConfig
	var peerURLs string
	cmd := &cobra.Command{Use: "restore FILE", Short: "Make a new member's data directory from a backup (run once per member of the new cluster)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if peerURLs != "" {
				rc.InitialAdvertisePeerURLs = strings.Split(peerURLs, ",")
			}
			info, err := node.Restore(b, rc)
			if err != nil {
				return fmt.Errorf("snapshot restore %s: %w", args[0], err)
			}
			if g.output == "json" {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored %s into %s for member %s: index %d, %d keys\n",
				args[0], rc.DataDir, rc.Name, info.Index, info.Keys)
			return nil
		}}
	fl := cmd.Flags()
	fl.StringVar(&rc.DataDir, "data-dir", "", "the new member's data directory (must be missing or empty)")
	fl.StringVar(&rc.Name, "name", "default", "the new member's name")
	fl.StringVar(&rc.InitialCluster, "initial-cluster", "", "the new cluster's members, name=peerURL,... (as given to cairnd)")
	fl.StringVar(&peerURLs, "initial-advertise-peer-urls", "", "the new member's peer URLs (as given to cairnd)")
	fl.StringVar(&rc.InitialClusterToken, "initial-cluster-token", "cairn-cluster", "the new cluster's token (as given to cairnd)")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

// progressBar draws the download's progress on a terminal, and nothing elsewhere.
type progressBar struct {
	w     io.Writer
	tty   bool
	last  time.Time
	shown bool
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty}
}

func (p *progressBar) update(done, total int64) {
	if !p.tty || (time.Since(p.last) < 100*time.Millisecond && done != total) {
		return
	}
	p.last = time.Now()
	p.shown = true
	const width = 30
	if total <= 0 {
		fmt.Fprintf(p.w, "\rsnapshot: %s", sizeString(done))
		return
	}
	filled := int(int64(width) * done / total)
	fmt.Fprintf(p.w, "\rsnapshot: [%s%s] %3d%% %s / %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		100*done/total, sizeString(done), sizeString(total))
}

func (p *progressBar) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
