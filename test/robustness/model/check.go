package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizable checks ops with porcupine. It returns porcupine's verdict and the information
// its visualisation needs; Unknown means the check ran out of time.
func Linearizable(ops []Op, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	hist := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		hist = append(hist, porcupine.Operation{
			ClientId: op.Client, Input: op.Input, Output: op.Output,
			Call: op.Call, Return: op.Return, Metadata: op.Node,
		})
	}
	model := KV.ToModel()
	model.DescribeOperationMetadata = func(info interface{}) string {
		if info == nil {
			return ""
		}
		return "node " + info.(string)
	}
	return porcupine.CheckOperationsVerbose(model, hist, timeout)
}

// Evidence writes the history as JSON and porcupine's HTML visualisation into dir and returns
// the two paths.
func Evidence(dir string, ops []Op, info porcupine.LinearizationInfo) (historyPath, htmlPath string, err error) {
	if historyPath, err = SaveHistory(dir, ops); err != nil {
		return "", "", err
	}
	htmlPath = filepath.Join(dir, "linearizability.html")
	model := KV.ToModel()
	if err := porcupine.VisualizePath(model, info, htmlPath); err != nil {
		return historyPath, "", err
	}
	return historyPath, htmlPath, nil
}

// SaveHistory writes the history as JSON into dir and returns the file's path.
func SaveHistory(dir string, ops []Op) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "history.json")
	b, err := json.MarshalIndent(ops, "", " ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b, 0o644)
}

// acked reports whether op is a write the cluster acknowledged as applied.
func acked(op Op) bool {
	return op.Input.IsWrite() && !op.Output.Unknown && op.Output.Err == 0
}

// CheckIndexes checks the global etcd index across keys in real time (see the package doc)
// and returns every violation found, at most max of them.
func CheckIndexes(ops []Op, max int) []string {
	var problems []string
	report := func(format string, args ...any) bool {
		problems = append(problems, fmt.Sprintf(format, args...))
		return len(problems) < max
	}
	var writes []Op
	byIndex := map[uint64]Op{}
	for _, op := range ops {
		if !acked(op) {
			continue
		}
		if prev, dup := byIndex[op.Output.Mod]; dup {
			if !report("index %d acknowledged twice: %s and %s", op.Output.Mod,
				Describe(prev.Input, prev.Output), Describe(op.Input, op.Output)) {
				return problems
			}
		}
		byIndex[op.Output.Mod] = op
		writes = append(writes, op)
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].Return < writes[j].Return })
	// prefix[i] is the write with the highest index among writes[0..i].
	prefix := make([]Op, len(writes))
	for i, w := range writes {
		prefix[i] = w
		if i > 0 && prefix[i-1].Output.Mod > w.Output.Mod {
			prefix[i] = prefix[i-1]
		}
	}
	// latestBefore returns the highest-index write that returned strictly before t.
	latestBefore := func(t int64) (Op, bool) {
		i := sort.Search(len(writes), func(i int) bool { return writes[i].Return >= t })
		if i == 0 {
			return Op{}, false
		}
		return prefix[i-1], true
	}
	for _, op := range ops {
		if op.Output.Unknown || op.Output.Index == noIndexReported {
			continue
		}
		before, ok := latestBefore(op.Call)
		if !ok {
			continue
		}
		if acked(op) && op.Output.Mod <= before.Output.Mod {
			if !report("write %s got index %d, but %s had returned with index %d before it began",
				Describe(op.Input, op.Output), op.Output.Mod, Describe(before.Input, before.Output), before.Output.Mod) {
				return problems
			}
			continue
		}
		if !acked(op) && op.Output.Index < before.Output.Mod {
			if !report("stale answer on node %s: %s reports index %d, but %s had returned with index %d before it began",
				op.Node, Describe(op.Input, op.Output), op.Output.Index, Describe(before.Input, before.Output), before.Output.Mod) {
				return problems
			}
		}
	}
	return problems
}

// LostWrites compares final reads (taken after a full-cluster restart, with nothing else
// running) with the acknowledged writes: per key, the final node must be the last
// acknowledged write or a later one, and the final index must cover every acknowledged write.
func LostWrites(ops []Op, final map[string]Output) []string {
	var problems []string
	last := map[string]Op{}
	var maxIdx uint64
	for _, op := range ops {
		if !acked(op) {
			continue
		}
		if op.Output.Mod > maxIdx {
			maxIdx = op.Output.Mod
		}
		if cur, ok := last[op.Input.Key]; !ok || op.Output.Mod > cur.Output.Mod {
			last[op.Input.Key] = op
		}
	}
	for key, w := range last {
		got, ok := final[key]
		if !ok {
			problems = append(problems, fmt.Sprintf("no final read of %s", key))
			continue
		}
		switch {
		case got.Err == ErrKeyNotFound && w.Input.Kind != Delete && got.Index < w.Output.Mod:
			problems = append(problems, fmt.Sprintf("%s lost: final read finds no key at index %d, last acknowledged write %s",
				key, got.Index, Describe(w.Input, w.Output)))
		case got.Err == 0 && got.Mod < w.Output.Mod:
			problems = append(problems, fmt.Sprintf("%s lost: final read %q@%d is older than acknowledged %s",
				key, got.Value, got.Mod, Describe(w.Input, w.Output)))
		}
		if got.Index < maxIdx {
			problems = append(problems, fmt.Sprintf("final index %d (read of %s) is below the highest acknowledged write index %d",
				got.Index, key, maxIdx))
		}
	}
	sort.Strings(problems)
	return problems
}
