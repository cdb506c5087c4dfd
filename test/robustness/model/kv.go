package model

import (
	"fmt"
	"math"

	"github.com/anishathalye/porcupine"
)

// Kind names a client operation.
type Kind string

const (
	Get      Kind = "get"      // linearizable GET
	Put      Kind = "put"      // PUT value
	Create   Kind = "create"   // PUT value with prevExist=false
	CASValue Kind = "casValue" // PUT value with prevValue
	CASIndex Kind = "casIndex" // PUT value with prevIndex
	Delete   Kind = "delete"   // DELETE
)

// etcd error codes the model understands; any other error is an unknown outcome for a write
// and no operation at all for a read.
const (
	ErrKeyNotFound  = 100
	ErrTestFailed   = 101
	ErrNodeExist    = 105
	unknownOutcome  = -1
	noIndexReported = 0
)

// Input is what a client asked.
type Input struct {
	Kind      Kind   `json:"kind"`
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	PrevValue string `json:"prevValue,omitempty"`
	PrevIndex uint64 `json:"prevIndex,omitempty"`
}

// Output is what the client learned. Unknown marks an operation that may or may not have been
// applied; Err is the etcd error code of a definite failure (0 on success).
type Output struct {
	Unknown bool   `json:"unknown,omitempty"`
	Err     int    `json:"err,omitempty"`
	Value   string `json:"value,omitempty"` // a successful get's value
	Mod     uint64 `json:"mod,omitempty"`   // modifiedIndex of the node read or written
	Index   uint64 `json:"index,omitempty"` // X-Etcd-Index of the answer (or the error's index)
}

// IsWrite reports whether the operation changes state when it succeeds.
func (in Input) IsWrite() bool { return in.Kind != Get }

// Op is one recorded operation. Return is math.MaxInt64 for an unknown outcome.
type Op struct {
	Client int    `json:"client"`
	Node   string `json:"node"`
	Input  Input  `json:"input"`
	Output Output `json:"output"`
	Call   int64  `json:"call"`
	Return int64  `json:"return"`
}

// Pending is the return time of an operation whose outcome is unknown.
const Pending = int64(math.MaxInt64)

// keyState is the model's state for one key. Mod 0 means the key was last written by an
// operation whose index is unknown; Floor is a lower bound every later write must exceed.
type keyState struct {
	Exists bool
	Value  string
	Mod    uint64
	Floor  uint64
}

func (s keyState) String() string {
	if !s.Exists {
		return fmt.Sprintf("absent (floor %d)", s.Floor)
	}
	mod := "?"
	if s.Mod != 0 {
		mod = fmt.Sprint(s.Mod)
	}
	return fmt.Sprintf("%q@%s (floor %d)", s.Value, mod, s.Floor)
}

// apply returns the state after in succeeded with index mod (0: unknown).
func (s keyState) apply(in Input, mod uint64) keyState {
	floor := mod
	if mod == 0 {
		floor = s.Floor + 1
	}
	if in.Kind == Delete {
		return keyState{Floor: floor}
	}
	return keyState{Exists: true, Value: in.Value, Mod: mod, Floor: floor}
}

// precondition reports whether in can succeed (ok) and whether it can fail with code
// (canFail) in state s. With an unknown Mod, a prevIndex comparison can go either way.
func (s keyState) precondition(in Input) (ok bool, failCode int) {
	switch in.Kind {
	case Put:
		return true, 0
	case Create:
		if s.Exists {
			return false, ErrNodeExist
		}
		return true, 0
	case CASValue:
		if !s.Exists {
			return false, ErrKeyNotFound
		}
		if s.Value != in.PrevValue {
			return false, ErrTestFailed
		}
		return true, 0
	case CASIndex:
		if !s.Exists {
			return false, ErrKeyNotFound
		}
		if s.Mod != 0 && s.Mod != in.PrevIndex {
			return false, ErrTestFailed
		}
		return true, 0
	case Delete:
		if !s.Exists {
			return false, ErrKeyNotFound
		}
		return true, 0
	}
	return false, 0
}

// step lists the states s can move to when in produced out; none means out is impossible.
func step(s keyState, in Input, out Output) []keyState {
	if out.Index != noIndexReported && out.Index < s.Floor {
		return nil // the answer comes from a state older than this linearization point
	}
	if in.Kind == Get {
		switch {
		case out.Err == ErrKeyNotFound:
			if s.Exists {
				return nil
			}
			return []keyState{s}
		case out.Err != 0:
			return nil
		case !s.Exists || s.Value != out.Value:
			return nil
		case s.Mod == 0:
			// The read reveals the index of a write whose answer was lost.
			if out.Mod < s.Floor {
				return nil
			}
			n := s
			n.Mod = out.Mod
			if out.Mod > n.Floor {
				n.Floor = out.Mod
			}
			return []keyState{n}
		case s.Mod != out.Mod:
			return nil
		}
		return []keyState{s}
	}
	ok, failCode := s.precondition(in)
	if out.Unknown {
		states := []keyState{s}
		if ok {
			states = append(states, s.apply(in, 0))
		}
		return states
	}
	if out.Err != 0 {
		if in.Kind == CASIndex && s.Exists && s.Mod == 0 && out.Err == ErrTestFailed {
			return []keyState{s} // the unknown index might differ from prevIndex
		}
		if ok || out.Err != failCode {
			return nil
		}
		return []keyState{s}
	}
	if !ok || out.Mod <= s.Floor {
		return nil
	}
	if in.Kind == CASIndex && s.Mod == 0 {
		// Success proves the unknown index was prevIndex, which must be above the old floor.
		if in.PrevIndex < s.Floor {
			return nil
		}
	}
	return []keyState{s.apply(in, out.Mod)}
}

// KV is the porcupine model of Cairn's v2 keys, partitioned by key (see the package doc).
var KV = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, seen := byKey[k]; !seen {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{keyState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		next := step(state.(keyState), input.(Input), output.(Output))
		out := make([]interface{}, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Equal: func(a, b interface{}) bool { return a.(keyState) == b.(keyState) },
	DescribeOperation: func(input, output interface{}) string {
		return Describe(input.(Input), output.(Output))
	},
	DescribeState: func(state interface{}) string { return state.(keyState).String() },
}

// Describe renders an operation for the visualisation and for error messages.
func Describe(in Input, out Output) string {
	var call string
	switch in.Kind {
	case Get, Delete:
		call = fmt.Sprintf("%s(%s)", in.Kind, in.Key)
	case CASValue:
		call = fmt.Sprintf("cas(%s, prevValue=%q, %q)", in.Key, in.PrevValue, in.Value)
	case CASIndex:
		call = fmt.Sprintf("cas(%s, prevIndex=%d, %q)", in.Key, in.PrevIndex, in.Value)
	default:
		call = fmt.Sprintf("%s(%s, %q)", in.Kind, in.Key, in.Value)
	}
	switch {
	case out.Unknown:
		return call + " -> unknown"
	case out.Err != 0:
		return fmt.Sprintf("%s -> error %d (index %d)", call, out.Err, out.Index)
	case in.Kind == Get:
		return fmt.Sprintf("%s -> %q@%d (index %d)", call, out.Value, out.Mod, out.Index)
	}
	return fmt.Sprintf("%s -> ok@%d", call, out.Mod)
}
