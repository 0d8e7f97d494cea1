package server

import (
	"net/http"
	"time"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// dashboardPoints is how many leaves the growth chart samples.
const dashboardPoints = 64

// dashboardExhibits caps the exhibits listed to a party.
const dashboardExhibits = 500

// dashboardData fills the dashboard for r: the latest checkpoint that meets
// the witness quorum (else the log's latest), the witnesses that cosigned
// it and those that did not, the public counts, the ledger's growth read
// from the leaves' times, and, for an authenticated party only, the
// exhibits.
func (s *Server) dashboardData(r *http.Request) (DashboardData, error) {
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	d := DashboardData{Origin: s.log.Origin(), Generated: now.UTC()}
	cp, size := s.QuorumCheckpoint(), s.QuorumSize()
	if cp == nil {
		cp, size = s.Checkpoint()
	}
	root, err := s.log.TreeHash(size)
	if err != nil {
		return d, err
	}
	d.Size, d.Root = size, root.String()
	if s.wit != nil {
		d.Quorum = quorumCount(s.wit.policy)
		_, cosigs, _ := s.wit.policy.CheckCheckpoint(cp)
		signed := map[string]bool{}
		for _, c := range cosigs {
			d.Cosigners = append(d.Cosigners, DashboardCosigner{Name: c.Witness, Time: c.Time})
			signed[c.Witness] = true
			if c.Time.After(d.Time) {
				d.Time = c.Time
			}
		}
		for _, w := range s.WitnessStatus() {
			if !signed[w.Name] {
				d.Pending = append(d.Pending, DashboardPendingWitness{Name: w.Name, LastSize: max(w.CosignedSize, 0), LastTime: w.LastCosigned, LastError: w.LastError})
			}
		}
	}
	counts, err := s.PublicCounts()
	if err != nil {
		return d, err
	}
	d.Counts = counts
	if n := s.log.Size(); n > 0 {
		step := max(n/dashboardPoints, 1)
		for i := int64(0); i < n; i += step {
			d.Growth = append(d.Growth, s.growthPoint(i))
		}
		d.Growth = append(d.Growth, s.growthPoint(n-1))
	}
	if d.Time.IsZero() && len(d.Growth) > 0 {
		d.Time = d.Growth[len(d.Growth)-1].Time
	}
	if d.Viewer = PartyOf(r); d.Viewer != "" {
		xs, err := custody.Status(s.log.Index(), "")
		if err != nil {
			return d, err
		}
		for _, x := range xs[:min(len(xs), dashboardExhibits)] {
			d.Exhibits = append(d.Exhibits, DashboardExhibit{ID: x.ID, Holder: x.Holder, Status: x.Status})
		}
	}
	return d, nil
}

// growthPoint is the ledger's size just after leaf i, at the leaf's time.
func (s *Server) growthPoint(i int64) GrowthPoint {
	b, err := s.log.Leaf(i)
	if err != nil {
		return GrowthPoint{Size: i + 1}
	}
	l, err := ledger.ParseLeaf(b)
	if err != nil {
		return GrowthPoint{Size: i + 1}
	}
	return GrowthPoint{Time: l.Time, Size: i + 1}
}

// quorumCount is how many cosignatures the policy's quorum needs at the
// top level: k of its quorum group, 1 for a single witness, 0 for none.
func quorumCount(p *verify.Policy) int {
	for _, g := range p.Groups {
		if g.Name == p.Quorum {
			return g.K
		}
	}
	if p.Quorum == "" || p.Quorum == "none" {
		return 0
	}
	return 1
}
