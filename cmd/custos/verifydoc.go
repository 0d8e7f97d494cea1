package main

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/custos-ledger/custos/verify"
)

// clerkProgram checks an unpacked bundle with golang.org/x/mod alone. It is
// printed in full in VERIFY.md; TestExportDemo compiles and runs the
// copy an exported bundle carries.
const clerkProgram = `// Command checkbundle checks an unpacked custos bundle with golang.org/x/mod
// alone: the checkpoint's signature by the log key, every leaf's inclusion
// proof and every known checkpoint's consistency proof.
//
//	go run . 'LOG-KEY' BUNDLE-DIR
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	v, err := note.NewVerifier(os.Args[1])
	check(err)
	dir := os.Args[2]
	cp := read(filepath.Join(dir, "checkpoint"))
	size, root := open(cp, v)
	leaves, _ := filepath.Glob(filepath.Join(dir, "entries", "*.leaf"))
	for _, name := range leaves {
		leaf := read(name)
		lines, rest := split(read(strings.TrimSuffix(name, ".leaf") + ".tlog-proof"))
		index, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "index "), 10, 64)
		check(err)
		if !bytes.Equal(rest, cp) || len(leaf) < 16 || int64(binary.BigEndian.Uint64(leaf[8:16])) != index {
			log.Fatalf("%s: its proof is not for this leaf and checkpoint", name)
		}
		check(tlog.CheckRecord(hashes(lines[2:]), size, root, index, tlog.RecordHash(leaf)))
	}
	known, _ := filepath.Glob(filepath.Join(dir, "known", "*.checkpoint"))
	for _, name := range known {
		oldSize, oldRoot := open(read(name), v)
		lines, rest := split(read(strings.TrimSuffix(name, ".checkpoint") + ".consistency"))
		if !bytes.Equal(rest, cp) || lines[0] != fmt.Sprintf("old %d", oldSize) {
			log.Fatalf("%s: its proof is not from this checkpoint to the bundle's", name)
		}
		check(tlog.CheckTree(hashes(lines[1:]), size, root, oldSize, oldRoot))
	}
	fmt.Printf("OK: %d leaves in the tree of size %d signed by %s; %d earlier checkpoints consistent with it\n",
		len(leaves), size, v.Name(), len(known))
}

// open checks a signed checkpoint and returns its size and root.
func open(signed []byte, v note.Verifier) (int64, tlog.Hash) {
	n, err := note.Open(signed, note.VerifierList(v))
	check(err)
	f := strings.Split(n.Text, "\n") // origin, size, root, ""
	if len(f) != 4 || f[0] != v.Name() {
		log.Fatalf("not a checkpoint of %s", v.Name())
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	check(err)
	return size, hashes(f[2:3])[0]
}

// split cuts a proof at its first empty line: its lines, then the checkpoint.
func split(proof []byte) ([]string, []byte) {
	head, rest, _ := bytes.Cut(proof, []byte("\n\n"))
	return strings.Split(string(head), "\n"), rest
}

func hashes(lines []string) []tlog.Hash {
	var hs []tlog.Hash
	for _, l := range lines {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(b) != 32 {
			log.Fatalf("%q is not a base64 SHA-256 hash", l)
		}
		hs = append(hs, tlog.Hash(b))
	}
	return hs
}

func read(name string) []byte {
	b, err := os.ReadFile(name)
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
`

// verifyDocTemplate is VERIFY.md: how a tribunal clerk checks the bundle
// without trusting custos.
var verifyDocTemplate = template.Must(template.New("VERIFY.md").Parse(`# How to verify this bundle

This is a custos tribunal bundle ({{.M.Format}}): the custody record of
{{if .M.Exhibits}}exhibits {{.Exhibits}}{{else}}no exhibit{{end}} from the ledger
{{.M.Origin}}, {{.M.Entries}} entries, proven to that ledger's checkpoint of
size {{.M.TreeSize}}. It was exported on {{.M.Created}}. The format is
specified in custos's docs/bundle-spec.md. You need nothing from custos to
check it: a tar, sha256sum, and Go with golang.org/x/mod.

## 1. Unpack it

    mkdir bundle && tar -xf FILE.custos -C bundle

Every member is a plain file: manifest.json, checkpoint, trust.policy,
known/<size>.checkpoint and known/<size>.consistency, entries/<index>.leaf
and entries/<index>.tlog-proof (20-digit numbers), report.html, VERIFY.md.

## 2. Get the log's key from someone you trust

The checkpoint is signed by the log's key. Take that key from the trust
policy you were given independently, not from this bundle. The exporter's
key line was:

    {{.LogKey}}

## 3. Recompute a leaf's hash

The ledger's Merkle tree (RFC 6962) hashes each leaf as SHA-256 of a zero
byte followed by the leaf's bytes:

    ( printf '\0'; cat entries/00000000000000000000.leaf ) | sha256sum

The leaf's bytes 8 to 16 are its index (big-endian), and its envelope (from
byte 60) is the signed in-toto statement in a DSSE envelope.

## 4. Check the checkpoint and every proof

This program (Go, golang.org/x/mod only; about 40 lines of logic) checks
the checkpoint's signature by the log key with golang.org/x/mod/sumdb/note,
each entry's C2SP tlog-proof with golang.org/x/mod/sumdb/tlog against the
checkpoint's root, and the consistency of each earlier checkpoint the bundle
carries. Save it as main.go in an empty directory, then:

    go mod init checkbundle && go get golang.org/x/mod@{{.XModVersion}}
    go run . '{{.LogKey}}' ../bundle

` + "```go\n{{.Program}}```" + `

It prints "OK: ..." or the first failure.

## 5. The witnesses, signatures and custody rules

Witness cosignatures on the checkpoint (C2SP tlog-cosignature v1) can be
checked with github.com/transparency-dev/formats/note; each envelope's
DSSE signatures with any DSSE library. The full check (a witness quorum
under your trust policy, every signature against the key state as of its
leaf, the custody rules replayed over each exhibit's history, and your
evidence files against the exhibits' digests) is:

    custos verify FILE.custos --trust trust.policy [--evidence DIR] [--known-checkpoint OLD]

trust.policy inside the bundle is the policy it was made for, for your
information: give custos verify the policy you trust.
`))

// xmodVersion is the golang.org/x/mod version VERIFY.md's program is
// tested with (go.mod's).
const xmodVersion = "v0.43.0"

// renderVerifyDoc writes VERIFY.md for a bundle.
func renderVerifyDoc(m *verify.Manifest, logKey string) ([]byte, error) {
	var b bytes.Buffer
	exhibits := strings.Join(m.Exhibits, ", ")
	if len(m.Exhibits) > 20 {
		exhibits = fmt.Sprintf("%s, ... (%d in all, listed in manifest.json)", strings.Join(m.Exhibits[:20], ", "), len(m.Exhibits))
	}
	err := verifyDocTemplate.Execute(&b, map[string]any{
		"M": m, "Exhibits": exhibits, "LogKey": logKey,
		"Program": clerkProgram, "XModVersion": xmodVersion,
	})
	return b.Bytes(), err
}
