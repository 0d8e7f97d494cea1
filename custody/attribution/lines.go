package attribution

import (
	"slices"
	"strings"
)

// unionFind groups finding ids into independence groups. The representative
// of a group is its smallest id, so it does not depend on the order of the
// unions.
type unionFind struct {
	parent map[string]string
}

func newUnionFind() *unionFind { return &unionFind{parent: map[string]string{}} }

func (u *unionFind) add(id string) {
	if _, ok := u.parent[id]; !ok {
		u.parent[id] = id
	}
}

func (u *unionFind) find(id string) string {
	u.add(id)
	root := id
	for u.parent[root] != root {
		root = u.parent[root]
	}
	for u.parent[id] != root { // path compression
		u.parent[id], id = root, u.parent[id]
	}
	return root
}

func (u *unionFind) union(a, b string) {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u.parent[rb] = ra
	case rb < ra:
		u.parent[ra] = rb
	}
}

// lines groups the counted findings (in leaf index order) into independent
// lines, numbered from 1 in the order of their first finding, and returns
// them with the line number of each counted finding.
func (e *evaluation) lines(counted []*Finding) ([]Line, map[string]int) {
	lines := []Line{}
	lineOf := map[string]int{}
	byRoot := map[string]int{}
	var members [][]*Finding
	for _, f := range counted {
		root := e.group.find(f.ID)
		n, ok := byRoot[root]
		if !ok {
			n = len(lines) + 1
			byRoot[root] = n
			lines = append(lines, Line{Number: n, Orgs: e.groupOrgs[root], Categories: []string{}})
			members = append(members, nil)
		}
		lineOf[f.ID] = n
		l := &lines[n-1]
		l.Findings = append(l.Findings, f.ID)
		members[n-1] = append(members[n-1], f)
	}
	for i := range lines {
		for _, cat := range Categories {
			if slices.ContainsFunc(members[i], func(f *Finding) bool { return f.Category == cat }) {
				lines[i].Categories = append(lines[i].Categories, cat)
			}
		}
		if len(members[i]) > 1 {
			lines[i].Collapsed = e.collapsed(members[i])
		}
	}
	return lines, lineOf
}

// collapsed says why several counted findings form one line: the
// organisations they share and the findings they derive from.
func (e *evaluation) collapsed(ms []*Finding) string {
	perOrg := map[string]int{}
	var derives, ancestors []string
	for _, f := range ms {
		if org, ok := e.orgOf(f.Party); ok {
			perOrg[org]++
		}
		up := slices.Clone(f.Lineage)
		slices.Sort(up)
		for _, id := range slices.Compact(up) {
			if slices.ContainsFunc(ms, func(m *Finding) bool { return m.ID == id }) {
				derives = append(derives, f.ID+" derives from "+id)
			} else {
				ancestors = append(ancestors, id)
			}
		}
	}
	var why []string
	for _, org := range sortedKeys(perOrg) {
		if perOrg[org] > 1 {
			why = append(why, "same organisation "+org)
		}
	}
	if len(ancestors) > 0 {
		slices.Sort(ancestors)
		why = append(why, "shared lineage "+andList(slices.Compact(ancestors)))
	}
	why = append(why, derives...)
	if len(why) == 0 {
		return "joined through other findings of the graph"
	}
	return strings.Join(why, "; ")
}

// matchCategories finds a maximum matching of categories to lines, each
// line vouching for at most one category (Kuhn's augmenting paths, in the
// fixed order of Categories and of the lines). It returns each matched
// category's line number.
func matchCategories(lines []Line) map[string]int {
	lineCat := map[int]string{} // line number → matched category
	var try func(cat string, seen map[int]bool) bool
	try = func(cat string, seen map[int]bool) bool {
		for _, l := range lines {
			if seen[l.Number] || !slices.Contains(l.Categories, cat) {
				continue
			}
			seen[l.Number] = true
			if prev, taken := lineCat[l.Number]; !taken || try(prev, seen) {
				lineCat[l.Number] = cat
				return true
			}
		}
		return false
	}
	for _, cat := range Categories {
		try(cat, map[int]bool{})
	}
	match := map[string]int{}
	for n, cat := range lineCat {
		match[cat] = n
	}
	return match
}
