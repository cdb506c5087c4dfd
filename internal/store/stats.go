package store

import "sync/atomic"

// Stats is /v2/stats/store; the JSON field names and order are etcd's.
type Stats struct {
	GetSuccess              uint64 `json:"getsSuccess"`
	GetFail                 uint64 `json:"getsFail"`
	SetSuccess              uint64 `json:"setsSuccess"`
	SetFail                 uint64 `json:"setsFail"`
	DeleteSuccess           uint64 `json:"deleteSuccess"`
	DeleteFail              uint64 `json:"deleteFail"`
	UpdateSuccess           uint64 `json:"updateSuccess"`
	UpdateFail              uint64 `json:"updateFail"`
	CreateSuccess           uint64 `json:"createSuccess"`
	CreateFail              uint64 `json:"createFail"`
	CompareAndSwapSuccess   uint64 `json:"compareAndSwapSuccess"`
	CompareAndSwapFail      uint64 `json:"compareAndSwapFail"`
	CompareAndDeleteSuccess uint64 `json:"compareAndDeleteSuccess"`
	CompareAndDeleteFail    uint64 `json:"compareAndDeleteFail"`
	ExpireCount             uint64 `json:"expireCount"`
	Watchers                uint64 `json:"watchers"`
}

const (
	statGetSuccess = iota
	statGetFail
	statSetSuccess
	statSetFail
	statDeleteSuccess
	statDeleteFail
	statUpdateSuccess
	statUpdateFail
	statCreateSuccess
	statCreateFail
	statCASSuccess
	statCASFail
	statCADSuccess
	statCADFail
	statExpireCount
	numStats
)

// counters are atomic because Get counts under the read lock, concurrently.
// They are process-local, as etcd's: a Restore keeps them.
type counters [numStats]atomic.Uint64

func (c *counters) inc(i int) { c[i].Add(1) }

// result counts one operation's outcome; each fail counter follows its
// success counter.
func (c *counters) result(success int, ok bool) {
	if !ok {
		c.inc(success + 1)
		return
	}
	c.inc(success)
}

// Stats returns the operation counters and the number of watchers.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		GetSuccess:              c[statGetSuccess].Load(),
		GetFail:                 c[statGetFail].Load(),
		SetSuccess:              c[statSetSuccess].Load(),
		SetFail:                 c[statSetFail].Load(),
		DeleteSuccess:           c[statDeleteSuccess].Load(),
		DeleteFail:              c[statDeleteFail].Load(),
		UpdateSuccess:           c[statUpdateSuccess].Load(),
		UpdateFail:              c[statUpdateFail].Load(),
		CreateSuccess:           c[statCreateSuccess].Load(),
		CreateFail:              c[statCreateFail].Load(),
		CompareAndSwapSuccess:   c[statCASSuccess].Load(),
		CompareAndSwapFail:      c[statCASFail].Load(),
		CompareAndDeleteSuccess: c[statCADSuccess].Load(),
		CompareAndDeleteFail:    c[statCADFail].Load(),
		ExpireCount:             c[statExpireCount].Load(),
		Watchers:                uint64(s.WatcherCount()),
	}
}
