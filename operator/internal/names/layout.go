package names

// Slot is one member position: the i-th member of the cluster, on a rack, as a pod of that
// rack's StatefulSet.
type Slot struct {
	Index       int    // 0..size-1 over the whole cluster; scale-down removes the highest
	Rack        int32  // 0 without racks
	StatefulSet string // StatefulSet(cluster, Rack)
	Ordinal     int    // the pod's ordinal in its StatefulSet
	Pod         string
}

// Layout spreads size members over the racks in turn (member i on racks[i % len(racks)]), so
// that every rack's StatefulSet holds the lowest ordinals and growing or shrinking by one
// touches one StatefulSet's highest ordinal.
func Layout(cluster string, racks []int32, size int) []Slot {
	if len(racks) == 0 {
		racks = []int32{0}
	}
	out := make([]Slot, 0, size)
	for i := 0; i < size; i++ {
		r := racks[i%len(racks)]
		sts := StatefulSet(cluster, r)
		ord := i / len(racks)
		out = append(out, Slot{Index: i, Rack: r, StatefulSet: sts, Ordinal: ord, Pod: Pod(sts, ord)})
	}
	return out
}

// Replicas counts the slots of each StatefulSet; every rack appears, with 0 when it has none.
func Replicas(cluster string, racks []int32, slots []Slot) map[string]int32 {
	out := map[string]int32{}
	if len(racks) == 0 {
		out[StatefulSet(cluster, 0)] = 0
	}
	for _, r := range racks {
		out[StatefulSet(cluster, r)] = 0
	}
	for _, s := range slots {
		out[s.StatefulSet]++
	}
	return out
}
