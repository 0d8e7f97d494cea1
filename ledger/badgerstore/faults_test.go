package badgerstore_test

// Storage faults (reliability-anchors §5 rows 2, 21, 22, 23): flipped bytes
// in the badger files of a closed ledger, a full disk, a read-only file
// system, a damaged MANIFEST and a missing table. Each test asserts what
// the store and the ledger say, and that nothing stored changed.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/ledger/badgerstore"
	"github.com/custos-ledger/custos/ledger/internal/ledgertest"
)

// copyTree copies the regular files of src into dst (created), keeping
// sparse tails sparse: badger's .mem and .vlog files are preallocated with
// truncate, and copying their zero tails byte for byte would write
// gigabytes.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, size, err := readUsed(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(dst, size); err != nil {
		t.Fatal(err)
	}
}

// readUsed returns the bytes of the file at path up to its first hole, with
// trailing zeros trimmed (badger writes its log files from the start), and
// the file's size.
func readUsed(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	end, err := f.Seek(0, seekHole)
	if err != nil {
		end = st.Size()
	}
	b := make([]byte, end)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, 0, err
	}
	return bytes.TrimRight(b, "\x00"), st.Size(), nil
}

// seekHole is lseek's SEEK_HOLE (Linux, the BSDs use 4 as well).
const seekHole = 4

// readAll returns every leaf and the stored checkpoint of the store in dir.
func readAll(t testing.TB, dir string) (leaves [][]byte, checkpoint []byte) {
	t.Helper()
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	size, cp, err := st.Head()
	if err != nil {
		t.Fatal(err)
	}
	if size > 0 {
		if leaves, err = st.ReadLeaves(0, int(size)); err != nil {
			t.Fatal(err)
		}
	}
	return leaves, cp
}

// padded returns a distinct entry of about n bytes.
func padded(i, n int) []byte {
	e := fmt.Appendf(nil, `{"test-entry":%d,"pad":"`, i)
	e = append(e, bytes.Repeat([]byte{'p'}, max(n-len(e)-2, 0))...)
	return append(e, `"}`...)
}

// tamperSnapshot builds the state of a closed ledger whose files hold all
// three kinds badger writes: a table (.sst, from a clean close), value logs
// (.vlog: badger keeps values of 1 MiB and more there, and a leaf of the
// largest entry is that big) and a write-ahead log (.mem: the second
// session is copied while open, as a kill would leave it). It returns the
// snapshot directory (store beside store.checkpoint) and the log key.
func tamperSnapshot(t *testing.T) (string, ledgertest.Keys) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	keys := ledgertest.NewKeys(t, "example.org/tamper")
	ctx := context.Background()
	big := bytes.Repeat([]byte{'b'}, ledger.MaxEntrySize)
	l := ledgertest.Open(t, dir, keys)
	for i := range 100 {
		if _, _, err := l.Append(ctx, padded(i, 64+i*17)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		big[0]++
		if _, _, err := l.Append(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ledgertest.Open(t, dir, keys)
	for i := range 50 {
		if _, _, err := l.Append(ctx, padded(100+i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	big[0]++
	if _, _, err := l.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // the checkpoint file catches up (200 ms)
	snap := filepath.Join(t.TempDir(), "snap")
	copyTree(t, dir, filepath.Join(snap, "store"))
	copyFile(t, l.CheckpointFile, filepath.Join(snap, "store.checkpoint"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return snap, keys
}

// A flip is one tampering of TestTamperStorageFiles: bit Bit of the byte at
// Pos of file File.
type flip struct {
	File string
	Pos  int
	Bit  uint
}

const (
	envTamperChild = "CUSTOS_TAMPER_CHILD" // snapshot directory of a TestTamperStorageFiles child
	envTamperFrom  = "CUSTOS_TAMPER_FROM"  // first flip the child checks
)

// TestTamperStorageFiles flips one bit at many positions of every .sst,
// .vlog and .mem file of a closed ledger and opens each damaged copy as
// the next writer would (badger opens read-write, dropping a torn
// write-ahead log tail), then runs ledger.Fsck against the checkpoint file.
// Each flip must be caught by badger (an error on open, or a checksum error
// on read), by Fsck (a bad leaf, hash, signature or root, or a store behind
// the checkpoint file), or have changed nothing: a store that passes Fsck
// must hold exactly the leaves and checkpoint it held before. The checks run
// in a child process, restarted after a crash, because badger panics on
// some damaged tables in goroutines no recover reaches; the test logs such
// flips as "badger panic" and the fraction each layer caught.
// CUSTOS_TAMPER_FLIPS sets the positions per file (default 24, 8 with
// -short).
func TestTamperStorageFiles(t *testing.T) {
	if snap := os.Getenv(envTamperChild); snap != "" {
		tamperChild(snap)
		return
	}
	perFile := 24
	if testing.Short() {
		perFile = 8
	}
	if s := os.Getenv("CUSTOS_TAMPER_FLIPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CUSTOS_TAMPER_FLIPS=%q, want a positive number", s)
		}
		perFile = n
	}
	snap, keys := tamperSnapshot(t)
	files, err := os.ReadDir(filepath.Join(snap, "store"))
	if err != nil {
		t.Fatal(err)
	}
	var flips []flip
	used := map[string]int{}
	for _, f := range files {
		ext := filepath.Ext(f.Name())
		if ext != ".sst" && ext != ".vlog" && ext != ".mem" {
			continue
		}
		b, _, err := readUsed(filepath.Join(snap, "store", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		u := len(b)
		if u == 0 {
			continue
		}
		used[f.Name()] = u
		n := min(perFile, u)
		stride := u / n
		for k := range n {
			// Evenly spread, at a random offset inside each stride, so
			// that headers, keys, values and checksums all get hit.
			var r [4]byte
			rand.Read(r[:])
			pos := k*stride + int(uint32(r[0])|uint32(r[1])<<8|uint32(r[2])<<16)%stride
			flips = append(flips, flip{File: f.Name(), Pos: pos, Bit: uint(r[3] % 8)})
		}
	}
	if len(flips) == 0 {
		t.Fatal("no .sst, .vlog or .mem file to tamper with")
	}
	var list strings.Builder
	for _, f := range flips {
		fmt.Fprintf(&list, "%s %d %d\n", f.File, f.Pos, f.Bit)
	}
	if err := os.WriteFile(filepath.Join(snap, "flips"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	layers := make([]string, len(flips))
	for from := 0; from < len(flips); {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTamperStorageFiles$")
		cmd.Env = append(os.Environ(), envTamperChild+"="+snap, envTamperFrom+"="+strconv.Itoa(from), envVKey+"="+keys.VKey)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.SplitN(line, "\t", 3)
			if len(f) < 2 {
				continue
			}
			k, _ := strconv.Atoi(f[0])
			layers[k] = f[1]
			if os.Getenv("CUSTOS_TAMPER_STACK") != "" && len(f) == 3 {
				t.Logf("%+v: %s: %s", flips[k], f[1], f[2])
			}
			if f[1] == "SILENT" || f[1] == "unexpected" {
				t.Errorf("%s: flipping bit %d at offset %d: %s", flips[k].File, flips[k].Bit, flips[k].Pos, f[2])
			}
			from = k + 1
		}
		if err == nil {
			if from != len(flips) {
				t.Fatalf("tamper child stopped at flip %d of %d\nstderr:\n%s", from, len(flips), stderr.String())
			}
			break
		}
		// The child died on flip `from`.
		if from >= len(flips) {
			t.Fatalf("tamper child failed after the last flip: %v\n%s", err, stderr.String())
		}
		msg := stderr.String()
		if !strings.Contains(msg, "panic") {
			t.Fatalf("tamper child died on flip %d (%+v) without a panic: %v\n%s", from, flips[from], err, msg)
		}
		first, _, _ := strings.Cut(msg[strings.Index(msg, "panic"):], "\n")
		if os.Getenv("CUSTOS_TAMPER_STACK") != "" {
			t.Log(msg)
		}
		// preflight opens every table before badger does, so a damaged
		// table is an error on open, never a panic.
		t.Errorf("%s: flipping bit %d at offset %d: badger panicked: %s", flips[from].File, flips[from].Bit, flips[from].Pos, first)
		layers[from] = "badger panic"
		from++
	}

	perFileCaught := map[string]map[string]int{}
	total := map[string]int{}
	for k, f := range flips {
		if perFileCaught[f.File] == nil {
			perFileCaught[f.File] = map[string]int{}
		}
		perFileCaught[f.File][layers[k]]++
		total[layers[k]]++
	}
	names := make([]string, 0, len(used))
	for name := range used {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		n := 0
		for _, c := range perFileCaught[name] {
			n += c
		}
		t.Logf("%s (%d bytes used): %d flips: %s", name, used[name], n, fractions(perFileCaught[name], n))
	}
	t.Logf("all files: %d flips: %s", len(flips), fractions(total, len(flips)))
}

// tamperChild checks the flips listed in snap/flips from CUSTOS_TAMPER_FROM
// on, printing "k<TAB>layer<TAB>detail" for each.
func tamperChild(snap string) {
	v, err := note.NewVerifier(os.Getenv(envVKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tamper child:", err)
		os.Exit(3)
	}
	from, _ := strconv.Atoi(os.Getenv(envTamperFrom))
	list, err := os.ReadFile(filepath.Join(snap, "flips"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tamper child:", err)
		os.Exit(3)
	}
	var flips []flip
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		var f flip
		fmt.Sscanf(line, "%s %d %d", &f.File, &f.Pos, &f.Bit)
		flips = append(flips, f)
	}
	t := &childT{}
	// The pristine snapshot, opened the same way.
	pristine := filepath.Join(os.TempDir(), fmt.Sprintf("custos-tamper-%d", os.Getpid()))
	defer os.RemoveAll(pristine)
	copyTree(t, filepath.Join(snap, "store"), filepath.Join(pristine, "store"))
	wantLeaves, wantCP := readAll(t, filepath.Join(pristine, "store"))
	for k := from; k < len(flips); k++ {
		f := flips[k]
		work := filepath.Join(pristine, "w")
		os.RemoveAll(work)
		copyTree(t, filepath.Join(snap, "store"), filepath.Join(work, "store"))
		copyFile(t, filepath.Join(snap, "store.checkpoint"), filepath.Join(work, "store.checkpoint"))
		if err := flipBit(filepath.Join(work, "store", f.File), int64(f.Pos), f.Bit); err != nil {
			t.Fatal(err)
		}
		layer, detail := checkStore(filepath.Join(work, "store"), v, wantLeaves, wantCP)
		fmt.Printf("%d\t%s\t%s\n", k, layer, strings.ReplaceAll(detail, "\n", " "))
	}
	os.Exit(0)
}

// checkStore opens the store in dir read-write, as the next writer would,
// runs Fsck against dir.checkpoint, and says which layer caught a change,
// "no effect" if the store holds exactly wantLeaves and wantCP, or
// "SILENT" if Fsck passed on changed content.
func checkStore(dir string, v note.Verifier, wantLeaves [][]byte, wantCP []byte) (layer, detail string) {
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		return "badger open", err.Error()
	}
	defer st.Close()
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: v, CheckpointFile: dir + ".checkpoint"})
	var ie *ledger.IntegrityError
	switch {
	case err == nil:
	case errors.Is(err, ledger.ErrRollback):
		return "checkpoint file", err.Error()
	case errors.As(err, &ie) && (strings.HasPrefix(ie.Msg, "unreadable") || strings.HasPrefix(ie.Msg, "reading")):
		return "badger read", err.Error()
	case errors.As(err, &ie):
		return "fsck", err.Error()
	default:
		return "unexpected", fmt.Sprintf("Fsck = %v (%T), want nil or an *IntegrityError", err, err)
	}
	size, cp, err := st.Head()
	if err != nil {
		return "unexpected", fmt.Sprintf("Head after a passing Fsck: %v", err)
	}
	var leaves [][]byte
	if size > 0 {
		if leaves, err = st.ReadLeaves(0, int(size)); err != nil {
			return "unexpected", fmt.Sprintf("ReadLeaves after a passing Fsck: %v", err)
		}
	}
	if rep.Size != int64(len(wantLeaves)) || !slices.EqualFunc(leaves, wantLeaves, bytes.Equal) || !bytes.Equal(cp, wantCP) {
		return "SILENT", fmt.Sprintf("Fsck passed on %d leaves, but the stored leaves or checkpoint changed", rep.Size)
	}
	return "no effect", ""
}

func flipBit(path string, pos int64, bit uint) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	var one [1]byte
	if _, err := f.ReadAt(one[:], pos); err != nil {
		f.Close()
		return err
	}
	one[0] ^= 1 << bit
	if _, err := f.WriteAt(one[:], pos); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// childT is the testing.TB of a child process: a failure ends it.
type childT struct{ testing.TB }

func (*childT) Helper() {}
func (*childT) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(3)
}

func fractions(m map[string]int, n int) string {
	var parts []string
	for _, k := range []string{"badger open", "badger panic", "badger read", "fsck", "checkpoint file", "no effect", "SILENT", "unexpected"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%.0f%%)", k, m[k], 100*float64(m[k])/float64(n)))
		}
	}
	return strings.Join(parts, ", ")
}

// closedLedger appends n entries to a new ledger and closes it. It returns
// the store directory, its keys and the leaves.
func closedLedger(t *testing.T, root string, n int) (string, ledgertest.Keys) {
	t.Helper()
	dir := filepath.Join(root, "store")
	keys := ledgertest.NewKeys(t, "example.org/faults")
	l := ledgertest.Open(t, dir, keys)
	for i := range n {
		if _, _, err := l.Append(context.Background(), padded(i, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, keys
}

// snapshotBytes returns the contents of every file under dir.
func snapshotBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// TestDamagedManifestAndMissingTable (row 23): a MANIFEST with flipped or
// cut bytes, or deleted, or a table it names deleted or cut, must give an
// error on open that names the store, or a store that Fsck refuses; never
// one that passes Fsck with leaves missing; never a panic, and no table
// deleted. Each open runs in a child process, so that a panic (badger
// v4.9.6 panics on a truncated table in a goroutine of its own, which
// preflight now forestalls) fails the test instead of ending it.
func TestDamagedManifestAndMissingTable(t *testing.T) {
	if dir := os.Getenv(envOpenChild); dir != "" {
		openChild(dir)
		return
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"manifest-flipped-byte", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-3] ^= 0x40
			os.WriteFile(filepath.Join(dir, "MANIFEST"), b, 0o644)
		}},
		{"manifest-bad-magic", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "MANIFEST"))
			b[0] ^= 0xff
			os.WriteFile(filepath.Join(dir, "MANIFEST"), b, 0o644)
		}},
		{"manifest-truncated", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "MANIFEST"))
			os.WriteFile(filepath.Join(dir, "MANIFEST"), b[:len(b)-5], 0o644)
		}},
		{"manifest-empty", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "MANIFEST"), nil, 0o644)
		}},
		{"manifest-deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "MANIFEST"))
		}},
		{"sst-deleted", func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(ssts) == 0 {
				t.Fatal("no .sst file")
			}
			os.Remove(ssts[0])
		}},
		{"sst-truncated", func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			os.Truncate(ssts[0], 100)
		}},
		{"sst-emptied", func(t *testing.T, dir string) {
			ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			os.Truncate(ssts[0], 0)
		}},
		{"keyregistry-flipped", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "KEYREGISTRY"))
			b[len(b)-1] ^= 1
			os.WriteFile(filepath.Join(dir, "KEYREGISTRY"), b, 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, ro := range []bool{true, false} {
				dir, keys := closedLedger(t, t.TempDir(), 40)
				tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
				tc.damage(t, dir)
				layer, detail := openInChild(t, dir, keys.VKey, ro)
				if tc.name != "sst-deleted" {
					for _, f := range tables {
						_, err := os.Stat(f)
						if errors.Is(err, os.ErrNotExist) {
							// preflight sets aside a table the MANIFEST no
							// longer names; badger alone deleted it.
							_, err = os.Stat(filepath.Join(dir, "orphan-tables", filepath.Base(f)))
						}
						if err != nil {
							t.Errorf("Open(ReadOnly %v) lost %s, which the damaged MANIFEST no longer names: %v", ro, filepath.Base(f), err)
						}
					}
				}
				switch layer {
				case "badger open":
					if !strings.Contains(detail, dir) {
						t.Errorf("Open(ReadOnly %v) = %q, does not name the store %s", ro, detail, dir)
					}
				case "fsck", "checkpoint file", "badger read":
				default:
					t.Errorf("Open(ReadOnly %v): %s %s; want an error on open or from Fsck", ro, layer, detail)
					continue
				}
				t.Logf("Open(ReadOnly %v): %s: %s", ro, layer, detail)
			}
		})
	}
}

const (
	envOpenChild = "CUSTOS_OPEN_CHILD" // store directory of a TestDamagedManifestAndMissingTable child
	envOpenRO    = "CUSTOS_OPEN_RO"
)

// openInChild opens the store in dir in a child process and runs Fsck
// there; a panic kills only the child. It returns the layer that caught
// the damage ("badger open", "badger read", "fsck", "checkpoint file",
// "badger panic") or "ok".
func openInChild(t *testing.T, dir, vkey string, ro bool) (layer, detail string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDamagedManifestAndMissingTable$")
	cmd.Env = append(os.Environ(), envOpenChild+"="+dir, envVKey+"="+vkey, envOpenRO+"="+strconv.FormatBool(ro))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := stderr.String()
		if i := strings.Index(msg, "panic"); i >= 0 {
			first, _, _ := strings.Cut(msg[i:], "\n")
			return "badger panic", first
		}
		t.Fatalf("open child: %v\n%s", err, msg)
	}
	layer, detail, _ = strings.Cut(strings.TrimSpace(string(out)), "\t")
	return layer, detail
}

func openChild(dir string) {
	v, err := note.NewVerifier(os.Getenv(envVKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open child:", err)
		os.Exit(3)
	}
	ro := os.Getenv(envOpenRO) == "true"
	st, err := badgerstore.Open(dir, badgerstore.Options{ReadOnly: ro})
	if err != nil {
		fmt.Printf("badger open\t%v\n", err)
		os.Exit(0)
	}
	defer st.Close()
	_, err = ledger.Fsck(st, ledger.FsckOptions{Verifier: v, CheckpointFile: dir + ".checkpoint"})
	var ie *ledger.IntegrityError
	switch {
	case err == nil:
		fmt.Printf("ok\tFsck passed\n")
	case errors.Is(err, ledger.ErrRollback):
		fmt.Printf("checkpoint file\t%v\n", err)
	case errors.As(err, &ie) && (strings.HasPrefix(ie.Msg, "unreadable") || strings.HasPrefix(ie.Msg, "reading")):
		fmt.Printf("badger read\t%v\n", err)
	case errors.As(err, &ie):
		fmt.Printf("fsck\t%v\n", err)
	default:
		fmt.Printf("unexpected\tFsck = %v (%T)\n", err, err)
	}
	st.Close()
	os.Exit(0)
}

// TestReadOnlyFilesystem (row 22): a ledger on a file system mounted
// read-only opens for reading and passes Fsck; opening it for writing
// fails with a clear error and changes no byte. As root the test mounts a
// tmpfs and remounts it read-only (chmod does not bind root); otherwise it
// removes write permission from the directory.
func TestReadOnlyFilesystem(t *testing.T) {
	root := t.TempDir()
	how := "chmod a-w"
	if os.Geteuid() == 0 {
		if err := mount(root, "size=256m"); err != nil { // above the free-space reserve
			t.Skipf("running as root but cannot mount a tmpfs (%v): the read-only case needs a mount that binds root", err)
		}
		t.Cleanup(func() { syscall.Unmount(root, syscall.MNT_DETACH) })
		how = "read-only tmpfs"
	}
	dir, keys := closedLedger(t, root, 20)
	before := snapshotBytes(t, dir)
	cpBefore, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := mount(root, "remount,ro"); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
	} else {
		os.Chmod(dir, 0o555)
		os.Chmod(root, 0o555)
		t.Cleanup(func() { os.Chmod(root, 0o755); os.Chmod(dir, 0o755) })
	}

	// Writing: a clear error naming the store, no panic.
	_, err = ledgertest.OpenErr(dir, keys)
	if err == nil {
		t.Fatalf("%s: opening the ledger for writing succeeded", how)
	}
	if !strings.Contains(err.Error(), dir) || !(errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission) ||
		strings.Contains(err.Error(), "read-only") || strings.Contains(err.Error(), "permission denied")) {
		t.Errorf("%s: Open for writing = %v; want an error naming %s and saying read-only or permission denied", how, err, dir)
	}
	t.Logf("%s: Open for writing = %v", how, err)

	// Reading: badger's shared lock needs to write nothing but its LOCK
	// file; on a read-only mount it cannot, which must be a clean error
	// too, and where it can open, Fsck passes.
	st, err := badgerstore.Open(dir, badgerstore.Options{ReadOnly: true})
	if err != nil {
		t.Logf("%s: Open read-only = %v", how, err)
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: Open read-only = %v; want an error naming %s", how, err, dir)
		}
	} else {
		rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint"})
		st.Close()
		if err != nil || rep.Size != 20 {
			t.Errorf("%s: Fsck = %v, %d leaves; want nil, 20", how, err, rep.Size)
		}
	}
	after := snapshotBytes(t, dir)
	for name, b := range before {
		if name == "LOCK" {
			continue
		}
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s: %s changed", how, name)
		}
	}
	if cp, _ := os.ReadFile(dir + ".checkpoint"); !bytes.Equal(cp, cpBefore) {
		t.Errorf("%s: checkpoint file changed", how)
	}
}

func mount(dir, opts string) error {
	flags := uintptr(0)
	if strings.HasPrefix(opts, "remount") {
		flags = syscall.MS_REMOUNT
		if strings.Contains(opts, "ro") {
			flags |= syscall.MS_RDONLY
		}
		opts = ""
	}
	return syscall.Mount("tmpfs", dir, "tmpfs", flags, opts)
}

const (
	envDiskFullChild = "CUSTOS_DISKFULL_CHILD"
	envSKey          = "CUSTOS_TEST_SKEY"
	envVKey          = "CUSTOS_TEST_VKEY"
)

// TestDiskFull (row 21) appends to a ledger on a small tmpfs until the file
// system is full, in a child process. The append must fail with an error
// wrapping ledger.ErrNoSpace ("no space left on device") that names the
// store, before badger's mmap meets a full disk (which would kill the
// process with SIGBUS). The parent then checks that every acknowledged
// append is stored, that the store reopens and passes Fsck, and, after
// deleting a filler file it placed first, that appends succeed again. It
// needs root (to mount) and is skipped otherwise.
func TestDiskFull(t *testing.T) {
	if dir := os.Getenv(envDiskFullChild); dir != "" {
		diskFullChild(dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("disk full: needs root to mount a small tmpfs; run the tests as root (CI does) to check ENOSPC")
	}
	root := t.TempDir()
	if err := mount(root, "size=64m"); err != nil {
		t.Skipf("disk full: cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(root, syscall.MNT_DETACH) })
	filler := filepath.Join(root, "filler")
	// The store runs with an 8 MiB memtable, so its reserve is 32 MiB: the
	// filler leaves room for a few hundred appends above it.
	if err := os.WriteFile(filler, bytes.Repeat([]byte{1}, 28<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "store")
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.org/disk-full")
	if err != nil {
		t.Fatal(err)
	}
	keys := keysOf(t, skey, vkey)

	acks, outcome := runDiskFullChild(t, dir, skey, vkey)
	t.Logf("disk full: %d appends acknowledged, then %s", len(acks), outcome)
	if len(acks) == 0 {
		t.Fatalf("disk full: no append succeeded before the file system filled (%s)", outcome)
	}
	if !strings.Contains(outcome, "append error") || !strings.Contains(outcome, "no space left on device") || !strings.Contains(outcome, dir) {
		t.Errorf("disk full: the child ended with %q; want an append error saying \"no space left on device\" and naming %s", outcome, dir)
	}

	// Still full: a second writer acknowledges nothing it did not store.
	acks2, outcome2 := runDiskFullChild(t, dir, skey, vkey)
	t.Logf("disk full, space not freed: %d more appends acknowledged, then %s", len(acks2), outcome2)
	for idx, h := range acks2 {
		if _, dup := acks[idx]; dup {
			t.Errorf("disk full: index %d acknowledged twice", idx)
		}
		acks[idx] = h
	}

	// Space freed: the ledger reopens, holds every acknowledged leaf,
	// passes Fsck, and takes appends again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st, err := badgerstore.Open(dir, badgerstore.Options{MemTableSize: diskFullMemTable})
	if err != nil {
		t.Fatalf("disk full: reopening the store after freeing space: %v", err)
	}
	rep, err := ledger.Fsck(st, ledger.FsckOptions{Verifier: keys.Verifier, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		st.Close()
		t.Fatalf("disk full: Fsck after freeing space = %v", err)
	}
	if len(acks) != int(rep.Size) {
		t.Errorf("disk full: %d appends acknowledged, the store holds %d leaves", len(acks), rep.Size)
	}
	for idx, h := range acks {
		if idx >= rep.Size {
			t.Errorf("disk full: leaf %d was acknowledged but the store holds %d leaves", idx, rep.Size)
			continue
		}
		leaves, err := st.ReadLeaves(idx, 1)
		if err != nil || ledger.LeafHash(leaves[0]) != h {
			t.Errorf("disk full: acknowledged leaf %d: %v, hash differs", idx, err)
		}
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: keys.Verifier, Signer: keys.Signer, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		st.Close()
		t.Fatalf("disk full: Open after freeing space = %v", err)
	}
	for i := range 5 {
		if idx, _, err := l.Append(context.Background(), padded(1_000_000+i, 4096)); err != nil || idx != rep.Size+int64(i) {
			t.Errorf("disk full: Append after freeing space = %d, %v; want %d, nil", idx, err, rep.Size+int64(i))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func keysOf(t testing.TB, skey, vkey string) ledgertest.Keys {
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return ledgertest.Keys{Signer: s, Verifier: v, VKey: vkey}
}

// runDiskFullChild runs the child and returns its acknowledged appends and
// how it ended.
func runDiskFullChild(t *testing.T, dir, skey, vkey string) (map[int64]ledger.Hash, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$")
	cmd.Env = append(os.Environ(), envDiskFullChild+"="+dir, envSKey+"="+skey, envVKey+"="+vkey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	acks := map[int64]ledger.Hash{}
	outcome := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		switch {
		case len(f) == 3 && f[0] == "ack":
			idx, _ := strconv.ParseInt(f[1], 10, 64)
			h, err := tlog.ParseHash(f[2])
			if err != nil {
				t.Fatalf("child: %q", sc.Text())
			}
			acks[idx] = h
		case f[0] == "error":
			outcome = "append error: " + strings.TrimPrefix(sc.Text(), "error ")
		default:
			t.Errorf("child printed %q", sc.Text())
		}
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if outcome == "" {
		msg := stderr.String()
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		outcome = fmt.Sprintf("the child died (%v): %s", err, msg)
	}
	return acks, outcome
}

// diskFullMemTable is the smallest memtable badger takes with its 1 MiB
// value threshold (a batch may fill 15% of it).
const diskFullMemTable = 8 << 20

// diskFullChild appends 8 KiB entries to the ledger in dir until an append
// fails, printing each acknowledged append and then the error.
func diskFullChild(dir string) {
	s, err1 := note.NewSigner(os.Getenv(envSKey))
	v, err2 := note.NewVerifier(os.Getenv(envVKey))
	if err := errors.Join(err1, err2); err != nil {
		fmt.Println("error keys:", err)
		os.Exit(0)
	}
	st, err := badgerstore.Open(dir, badgerstore.Options{MemTableSize: diskFullMemTable})
	if err != nil {
		fmt.Println("error open:", err)
		os.Exit(0)
	}
	l, err := ledger.Open(st, ledger.Options{Verifier: v, Signer: s, CheckpointFile: dir + ".checkpoint"})
	if err != nil {
		fmt.Println("error open:", err)
		os.Exit(0)
	}
	for i := 0; ; i++ {
		// Random padding: badger compresses its tables, and repeated
		// bytes would let a table take far less room than its memtable.
		var r [4 << 10]byte
		rand.Read(r[:])
		idx, h, err := l.Append(context.Background(), fmt.Appendf(nil, `{"test-entry":%d,"pad":"%x"}`, i, r))
		if err != nil {
			fmt.Println("error", err)
			cerr := l.Close()
			fmt.Fprintln(os.Stderr, "close:", cerr)
			os.Exit(0)
		}
		fmt.Printf("ack %d %s\n", idx, h)
	}
}
