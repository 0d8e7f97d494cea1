package verify_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// bundleMember is a member to write: its name and content.
type bundleMember struct {
	name string
	data []byte
}

var bundleCreated = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func bundleManifest(treeSize, entries int64) []byte {
	m := &verify.Manifest{Format: verify.BundleFormat, Origin: "example.org/cert-ledger", TreeSize: treeSize,
		Created: bundleCreated.Format(time.RFC3339), Exhibits: []string{"CERT-UA-2026-0042"}, Entries: entries, Generator: "custos test"}
	return m.Marshal()
}

// bundleHead is the required start of a bundle of a tree of size 5 with two
// leaves.
func bundleHead() []bundleMember {
	return []bundleMember{
		{verify.ManifestName, bundleManifest(5, 2)},
		{verify.CheckpointName, []byte("example.org/cert-ledger\n5\nAAAA\n\n— sig\n")},
		{verify.PolicyName, []byte("# no trust policy was given at export\n")},
	}
}

// bundleMembers is a small valid bundle's members: the container does not
// look inside them.
func bundleMembers() []bundleMember {
	return append(bundleHead(),
		bundleMember{verify.KnownCheckpointName(2), []byte("example.org/cert-ledger\n2\nBBBB\n\n— sig\n")},
		bundleMember{verify.KnownConsistencyName(2), []byte("old 2\nCCCC\n\nexample.org/cert-ledger\n5\n")},
		bundleMember{verify.LeafName(0), bytes.Repeat([]byte{0, 1, 2}, 200)},
		bundleMember{verify.ProofName(0), []byte("c2sp.org/tlog-proof@v1\nindex 0\n\ncp\n")},
		bundleMember{verify.LeafName(3), []byte("CUSTOSL1 leaf three")},
		bundleMember{verify.ProofName(3), []byte("c2sp.org/tlog-proof@v1\nindex 3\n\ncp\n")},
		bundleMember{verify.ReportName, []byte("<!doctype html><title>report</title>")},
		bundleMember{verify.VerifyDocName, []byte("# How to verify\n")},
	)
}

func writeBundle(t testing.TB, members []bundleMember) []byte {
	t.Helper()
	var b bytes.Buffer
	w := verify.NewBundleWriter(&b)
	for _, m := range members {
		if err := w.Add(m.name, m.data); err != nil {
			t.Fatalf("Add(%s) = %v", m.name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	return b.Bytes()
}

// readBundle reads every member; err is what ended the reading (nil at a
// clean end).
func readBundle(b []byte) ([]*verify.Member, error) {
	r := verify.NewBundleReader(bytes.NewReader(b))
	var out []*verify.Member
	for {
		m, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	members := bundleMembers()
	b := writeBundle(t, members)
	if again := writeBundle(t, members); !bytes.Equal(b, again) {
		t.Errorf("two writes of the same members differ")
	}
	got, err := readBundle(b)
	if err != nil {
		t.Fatalf("reading a written bundle: %v", err)
	}
	if len(got) != len(members) {
		t.Fatalf("read %d members, want %d", len(got), len(members))
	}
	wantKinds := []verify.MemberKind{verify.KindManifest, verify.KindCheckpoint, verify.KindPolicy,
		verify.KindKnownCheckpoint, verify.KindKnownConsistency, verify.KindLeaf, verify.KindLeafProof,
		verify.KindLeaf, verify.KindLeafProof, verify.KindReport, verify.KindVerifyDoc}
	wantIndex := []int64{-1, -1, -1, 2, 2, 0, 0, 3, 3, -1, -1}
	for i, m := range got {
		if m.Name != members[i].name || !bytes.Equal(m.Data, members[i].data) || m.Kind != wantKinds[i] || m.Index != wantIndex[i] {
			t.Errorf("member %d = %s %v %d %q, want %s %v %d %q", i, m.Name, m.Kind, m.Index, m.Data, members[i].name, wantKinds[i], wantIndex[i], members[i].data)
		}
	}
	mf, err := verify.ParseManifest(got[0].Data)
	if err != nil || mf.TreeSize != 5 || mf.Entries != 2 {
		t.Errorf("ParseManifest = %+v, %v", mf, err)
	}

	// The headers are the deterministic ones, readable by any tar reader.
	tr := tar.NewReader(bytes.NewReader(b))
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(bundleCreated) || h.Format != tar.FormatUSTAR || h.Typeflag != tar.TypeReg {
			t.Errorf("header of %s = %+v, want mode 0644, ids 0, no names, mtime %v, USTAR", h.Name, h, bundleCreated)
		}
	}
	if !bytes.Equal(b[len(b)-1024:], make([]byte, 1024)) {
		t.Errorf("bundle does not end with the two zero blocks of a tar end-of-archive marker")
	}
}

// TestBundleEveryPrefix cuts a valid bundle at every byte: each prefix must
// fail as malformed, never read as a complete bundle.
func TestBundleEveryPrefix(t *testing.T) {
	b := writeBundle(t, bundleMembers())
	for n := 0; n < len(b); n++ {
		_, err := readBundle(b[:n])
		var pe *ledger.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("reading the first %d of %d bytes: err = %v, want a *ledger.ParseError", n, len(b), err)
		}
	}
}

// rawMember is a tar member as any tar writer may write it.
type rawMember struct {
	hdr  tar.Header
	data []byte
}

func regular(name string, data []byte) rawMember {
	return rawMember{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: bundleCreated, Format: tar.FormatUSTAR}, data}
}

func regularMembers(ms []bundleMember) []rawMember {
	var out []rawMember
	for _, m := range ms {
		out = append(out, regular(m.name, m.data))
	}
	return out
}

// rawTar writes members with archive/tar, unchecked, then the
// end-of-archive marker and trailing bytes.
func rawTar(t *testing.T, ms []rawMember, trailing []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		h := m.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("writing header of %q: %v", h.Name, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return append(b.Bytes(), trailing...)
}

// withNameBytes replaces the name field of the header at offset off with
// name (which may hold a NUL) and fixes the checksum.
func withNameBytes(b []byte, off int, name string) []byte {
	b = bytes.Clone(b)
	blk := b[off : off+512]
	copy(blk[:100], make([]byte, 100))
	copy(blk[:100], name)
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk {
		sum += int(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func TestBundleReaderRejects(t *testing.T) {
	head := regularMembers(bundleHead())
	leaf := func(i int64) []rawMember {
		return []rawMember{regular(verify.LeafName(i), []byte("leaf")), regular(verify.ProofName(i), []byte("proof"))}
	}
	tail := regularMembers([]bundleMember{{verify.ReportName, []byte("r")}, {verify.VerifyDocName, []byte("v")}})
	cat := func(parts ...[]rawMember) []rawMember {
		var out []rawMember
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	one := func(m rawMember) []rawMember { return []rawMember{m} }
	link := func(flag byte, name, target string) rawMember {
		return rawMember{tar.Header{Typeflag: flag, Name: name, Linkname: target, Mode: 0o644, ModTime: bundleCreated, Format: tar.FormatUSTAR}, nil}
	}
	valid := rawTar(t, cat(head, leaf(0), leaf(3), tail), nil)
	if _, err := readBundle(valid); err != nil {
		t.Fatalf("the unmutated bundle: %v", err)
	}
	// The offset of the header of the fourth member (after three members
	// of one data block each).
	fourth := 3 * 1024

	tests := []struct {
		name   string
		bundle []byte
		field  string // the member the error names
		rule   string
	}{
		{"dot-dot", rawTar(t, cat(head, one(regular("../../etc/x", []byte("x")))), nil), "../../etc/x", "name"},
		{"absolute", rawTar(t, cat(head, one(regular("/abs", []byte("x")))), nil), "/abs", "name"},
		{"windows", rawTar(t, cat(head, one(regular(`C:\x`, []byte("x")))), nil), `"C:\\x"`, "name"},
		{"dot-dot-inside", rawTar(t, cat(head, one(regular("a/../../b", []byte("x")))), nil), "a/../../b", "name"},
		{"short-index", rawTar(t, cat(head, one(regular("entries/1.leaf", []byte("x")))), nil), "entries/1.leaf", "name"},
		{"upper-case", rawTar(t, cat(head, one(regular("ENTRIES/00000000000000000000.LEAF", []byte("x")))), nil), "ENTRIES/00000000000000000000.LEAF", "name"},
		{"upper-case-manifest", rawTar(t, one(regular("MANIFEST.JSON", []byte("{}"))), nil), "MANIFEST.JSON", "name"},
		{"nul", withNameBytes(valid, fourth, "entries/00000000000000000000.leaf\x00/../../x"), `"entries/00000000000000000000.leaf\x00/../../x"`, "name"},
		{"very-long", rawTar(t, cat(head, one(rawMember{tar.Header{Typeflag: tar.TypeReg, Name: "entries/" + strings.Repeat("0", 300) + ".leaf", Size: 1, Mode: 0o644}, []byte("x")})), nil), `"entries/` + strings.Repeat("0", 56) + `"...`, "name"},
		{"index-overflow", rawTar(t, cat(head, one(regular("entries/99999999999999999999.leaf", []byte("x")))), nil), "entries/99999999999999999999.leaf", "name"},
		{"symlink", rawTar(t, cat(head, one(link(tar.TypeSymlink, verify.LeafName(0), "/etc/passwd"))), nil), verify.LeafName(0), "type"},
		{"hard-link", rawTar(t, cat(head, one(link(tar.TypeLink, verify.LeafName(0), "checkpoint"))), nil), verify.LeafName(0), "type"},
		{"directory", rawTar(t, cat(head, one(link(tar.TypeDir, verify.ReportName, ""))), nil), verify.ReportName, "type"},
		{"pax-header", rawTar(t, cat(head, one(rawMember{tar.Header{Typeflag: tar.TypeReg, Name: verify.LeafName(0), Size: 1, Mode: 0o644, ModTime: bundleCreated, Format: tar.FormatPAX, PAXRecords: map[string]string{"comment": "x"}}, []byte("x")})), nil), verify.LeafName(0), "header"},
		{"other-mode", rawTar(t, cat(head, one(rawMember{tar.Header{Typeflag: tar.TypeReg, Name: verify.LeafName(0), Size: 1, Mode: 0o755, ModTime: bundleCreated, Format: tar.FormatUSTAR}, []byte("x")})), nil), verify.LeafName(0), "header"},
		{"duplicate-leaf", rawTar(t, cat(head, leaf(0), leaf(0), tail), nil), verify.LeafName(0), "duplicate"},
		{"duplicate-proof", rawTar(t, cat(head, leaf(0), one(regular(verify.ProofName(0), nil)), tail), nil), verify.ProofName(0), "duplicate"},
		{"duplicate-policy", rawTar(t, cat(head, one(regular(verify.PolicyName, nil))), nil), verify.PolicyName, "duplicate"},
		{"out-of-order-leaves", rawTar(t, cat(head, leaf(3), leaf(0), tail), nil), verify.LeafName(0), "order"},
		{"proof-before-leaf", rawTar(t, cat(head, one(regular(verify.ProofName(0), nil))), nil), verify.ProofName(0), "order"},
		{"proof-of-other-leaf", rawTar(t, cat(head, one(regular(verify.LeafName(0), nil)), one(regular(verify.ProofName(3), nil))), nil), verify.ProofName(3), "order"},
		{"checkpoint-first", rawTar(t, head[1:], nil), verify.CheckpointName, "order"},
		{"known-after-leaves", rawTar(t, cat(head, leaf(0), one(regular(verify.KnownCheckpointName(1), nil))), nil), verify.KnownCheckpointName(1), "order"},
		{"oversized-leaf", rawTar(t, cat(head, one(regular(verify.LeafName(0), make([]byte, ledger.MaxLeafSize+1)))), nil), verify.LeafName(0), "size"},
		{"oversized-policy", rawTar(t, cat(head[:2], one(regular(verify.PolicyName, make([]byte, verify.MaxPolicySize+1)))), nil), verify.PolicyName, "size"},
		{"leaf-outside-tree", rawTar(t, cat(head, leaf(5)), nil), verify.LeafName(5), "range"},
		{"known-size-of-tree", rawTar(t, cat(head, one(regular(verify.KnownCheckpointName(5), nil))), nil), verify.KnownCheckpointName(5), "range"},
		{"more-leaves-than-manifest", rawTar(t, cat(head, leaf(0), leaf(1), leaf(2)), nil), verify.LeafName(2), "count"},
		{"fewer-leaves-than-manifest", rawTar(t, cat(head, leaf(0), tail), nil), verify.ReportName, "count"},
		{"bad-manifest", rawTar(t, cat(one(regular(verify.ManifestName, []byte(`{"format":"custos-bundle/v1"}`))), head[1:]), nil), verify.ManifestName, "manifest"},
		{"no-verify-doc", rawTar(t, cat(head, leaf(0), leaf(3), tail[:1]), nil), "", "incomplete"},
		{"member-after-verify-doc", rawTar(t, cat(head, leaf(0), leaf(3), tail, one(regular(verify.LeafName(4), nil))), nil), verify.LeafName(4), "order"},
		{"nonzero-padding", func() []byte { b := bytes.Clone(valid); b[fourth+512+100] = 'x'; return b }(), verify.LeafName(0), "padding"},
		{"trailing-garbage", append(bytes.Clone(valid), "garbage"...), "", "trailing"},
		{"trailing-zero-block", append(bytes.Clone(valid), make([]byte, 512)...), "", "trailing"},
		{"no-end-marker", valid[:len(valid)-1024], "", "truncated"},
		{"half-end-marker", valid[:len(valid)-512], "", "truncated"},
		{"empty", nil, "", "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readBundle(tt.bundle)
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("read = %v, want a *ledger.ParseError", err)
			}
			if pe.What != "bundle" || pe.Field != tt.field || !strings.HasPrefix(pe.Msg, tt.rule+": ") {
				t.Errorf("read = %q (field %q), want field %q and rule %q", err, pe.Field, tt.field, tt.rule)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

func TestBundleWriterRefuses(t *testing.T) {
	tests := []struct {
		name    string
		members []bundleMember
		rule    string
	}{
		{"not-manifest-first", []bundleMember{{verify.CheckpointName, nil}}, "order"},
		{"bad-name", append(bundleHead(), bundleMember{"entries/0.leaf", nil}), "name"},
		{"escape", append(bundleHead(), bundleMember{"../x", nil}), "name"},
		{"oversized", append(bundleHead(), bundleMember{verify.LeafName(0), make([]byte, ledger.MaxLeafSize+1)}), "size"},
		{"out-of-order", append(bundleHead(), bundleMember{verify.LeafName(1), nil}, bundleMember{verify.ProofName(1), nil}, bundleMember{verify.LeafName(0), nil}), "order"},
		{"duplicate", append(bundleHead(), bundleMember{verify.PolicyName, nil}), "duplicate"},
		{"non-canonical-manifest", []bundleMember{{verify.ManifestName, bytes.TrimSuffix(bundleManifest(5, 2), []byte("\n"))}}, "manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := verify.NewBundleWriter(io.Discard)
			var err error
			for _, m := range tt.members {
				if err = w.Add(m.name, m.data); err != nil {
					break
				}
			}
			var pe *ledger.ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(pe.Msg, tt.rule+": ") {
				t.Errorf("Add = %v, want a *ledger.ParseError for rule %q", err, tt.rule)
			}
			if again := w.Add(verify.VerifyDocName, nil); again == nil {
				t.Errorf("Add after an error succeeded")
			}
		})
	}
	t.Run("incomplete", func(t *testing.T) {
		w := verify.NewBundleWriter(io.Discard)
		for _, m := range bundleHead() {
			if err := w.Add(m.name, m.data); err != nil {
				t.Fatal(err)
			}
		}
		err := w.Close()
		var pe *ledger.ParseError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Msg, "incomplete: ") {
			t.Errorf("Close = %v, want an incomplete bundle refused", err)
		}
	})
}

func TestParseManifest(t *testing.T) {
	good := string(bundleManifest(5, 2))
	if _, err := verify.ParseManifest([]byte(good)); err != nil {
		t.Fatalf("ParseManifest(%s) = %v", good, err)
	}
	bad := map[string]string{
		"unknown-field":   strings.Replace(good, `"generator"`, `"extra":1,"generator"`, 1),
		"upper-case-key":  strings.Replace(good, `"origin"`, `"ORIGIN"`, 1),
		"duplicate-key":   strings.Replace(good, `"tree_size":5`, `"tree_size":5,"tree_size":5`, 1),
		"spaces":          strings.Replace(good, `,"origin"`, `, "origin"`, 1),
		"no-newline":      strings.TrimSuffix(good, "\n"),
		"trailing":        good + "{}",
		"format":          strings.Replace(good, "custos-bundle/v1", "custos-bundle/v2", 1),
		"created-offset":  strings.Replace(good, "08:00:00Z", "08:00:00+01:00", 1),
		"created-nanos":   strings.Replace(good, "08:00:00Z", "08:00:00.5Z", 1),
		"entries-too-big": strings.Replace(good, `"entries":2`, `"entries":6`, 1),
		"unsorted":        strings.Replace(good, `["CERT-UA-2026-0042"]`, `["B","A"]`, 1),
		"null-exhibits":   strings.Replace(good, `["CERT-UA-2026-0042"]`, `null`, 1),
		"zero-tree":       strings.Replace(good, `"tree_size":5`, `"tree_size":0`, 1),
		"not-json":        "manifest",
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := verify.ParseManifest([]byte(in))
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("ParseManifest(%s) = %v, want a *ledger.ParseError", in, err)
			}
		})
	}
}

// FuzzBundleReader: no input panics the reader, every error is a
// *ledger.ParseError (the input is in memory, so no error is an I/O
// error), and a bundle that reads cleanly is the only encoding of its
// members: writing them again gives the input back.
func FuzzBundleReader(f *testing.F) {
	valid := writeBundle(f, bundleMembers())
	f.Add(valid)
	f.Add(valid[:len(valid)-512])
	f.Add(append(bytes.Clone(valid), 0))
	empty := bundleHead()
	empty[0].data = bundleManifest(1, 0)
	f.Add(writeBundle(f, append(empty, bundleMember{verify.ReportName, nil}, bundleMember{verify.VerifyDocName, nil})))
	f.Fuzz(func(t *testing.T, b []byte) {
		members, err := readBundle(b)
		if err != nil {
			var pe *ledger.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ledger.ParseError", err, err)
			}
			return
		}
		var out bytes.Buffer
		w := verify.NewBundleWriter(&out)
		for _, m := range members {
			if err := w.Add(m.Name, m.Data); err != nil {
				t.Fatalf("rewriting %s: %v", m.Name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("a bundle that reads cleanly re-encodes to other bytes")
		}
	})
}
