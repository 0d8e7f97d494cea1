package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/verify"
)

// demoPassword encrypts the demo's throwaway keys. It is printed, because
// these keys protect nothing.
const demoPassword = "custos-demo"

// demoPredicate is the predicate type of the demo's lab notes. Custody
// predicates (acquisition, hand-over, ...) are defined in package custody.
const demoPredicate = "https://custos.dev/demo/lab-note/v1"

func (e *env) demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "run the end-to-end flow on a fresh embedded ledger: keys, signed statements, checkpoint, proofs, fsck",
		UsageText: "custos demo [--dir DIR] [--json]",
		Flags:     []cli.Flag{jsonFlag, &cli.StringFlag{Name: "dir", Usage: "keep the demo ledger, keys and evidence here (must be new or empty)"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			dir := c.String("dir")
			if dir == "" {
				tmp, err := os.MkdirTemp("", "custos-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return usagef("demo: %s is not empty; give a new directory", dir)
			}
			say := func(format string, args ...any) {
				if !c.Bool("json") {
					fmt.Fprintf(e.stdout, format+"\n", args...)
				}
			}
			sum, err := runDemo(dir, say)
			if err != nil {
				return err
			}
			if c.String("dir") == "" {
				say("\n(the demo ran in a temporary directory, now removed; use --dir DIR to keep it)")
			}
			return e.emit(c, sum, func(io.Writer) {})
		},
	}
}

type demoSummary struct {
	Dir              string `json:"dir"`
	Origin           string `json:"origin"`
	VKey             string `json:"vkey"`
	Size             int64  `json:"size"`
	Checkpoint       string `json:"checkpoint"`
	InclusionIndex   int64  `json:"inclusion_index"`
	InclusionProof   string `json:"inclusion_proof"`
	ConsistencyFrom  int64  `json:"consistency_from"`
	ConsistencyProof string `json:"consistency_proof"`
	FsckOK           bool   `json:"fsck_ok"`
}

// runDemo is the whole demo; it returns an error at the first step that
// does not work as a user would expect.
func runDemo(dir string, say func(string, ...any)) (*demoSummary, error) {
	pw := &passwords{getenv: func(string) string { return demoPassword }, stderr: io.Discard}
	d := ledgerDir(filepath.Join(dir, "ledger"))
	const origin = "demo.custos.example/case-gridlock"
	sum := &demoSummary{Dir: dir, Origin: origin}

	say("custos demo in %s (demo keys are encrypted with the password %q)\n", dir, demoPassword)
	say("1. custos init --ledger %s --origin %s", d, origin)
	vkey, err := initLedger(d, origin, []byte(demoPassword))
	if err != nil {
		return nil, fmt.Errorf("demo: init: %w", err)
	}
	sum.VKey = vkey
	say("   log verifier key: %s", vkey)

	keysDir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keysDir, 0o755); err != nil {
		return nil, err
	}
	signers := map[string]*custody.PrivateKey{}
	for _, k := range []struct {
		name string
		typ  custody.KeyType
	}{{"cert-ua", custody.KeyEd25519}, {"neutral-lab", custody.KeyECDSAP256}} {
		out := filepath.Join(keysDir, k.name)
		if _, err := generateKeyFiles(out, k.typ, []byte(demoPassword)); err != nil {
			return nil, fmt.Errorf("demo: key generate: %w", err)
		}
		key, err := (&env{pw: pw}).loadPrivateKey(out)
		if err != nil {
			return nil, err
		}
		signers[k.name] = key
		say("2. custos key generate --out %s --type %s   (key id %s)", out, k.typ, key.Public().KeyID())
	}

	evDir := filepath.Join(dir, "evidence")
	if err := os.MkdirAll(evDir, 0o755); err != nil {
		return nil, err
	}
	notes := []struct {
		signer, file, content, note string
	}{
		{"cert-ua", "hmi-disk.img", "stand-in for a 500 GB image of the HV-substation-7 HMI", "imaged via hardware write blocker, seal CERT-UA-0042-S1"},
		{"cert-ua", "hmi-memory.lime", "stand-in for a 16 GB LiME capture of the HMI", "memory captured before power-off"},
		{"cert-ua", "scada-historian.evtx", "stand-in for the historian's Windows event log", "exported from the historian server"},
		{"neutral-lab", "hmi-disk.img", "stand-in for a 500 GB image of the HV-substation-7 HMI", "received sealed; seal CERT-UA-0042-S1 intact"},
		{"neutral-lab", "dropper.bin", "stand-in for a dropper recovered from C:\\Windows\\Temp", "extracted from hmi-disk.img"},
		{"neutral-lab", "c2-pcap.pcapng", "stand-in for 48 h of substation uplink traffic", "beacon to 203.0.113.7 every 300 s"},
	}
	var oldCheckpoint []byte
	say("3. custos submit: six signed in-toto statements about the case's evidence")
	for i, n := range notes {
		path := filepath.Join(evDir, n.file)
		if err := os.WriteFile(path, []byte(n.content), 0o644); err != nil {
			return nil, err
		}
		digest := sha256.Sum256([]byte(n.content))
		stmt, err := json.Marshal(map[string]any{
			"_type":         custody.StatementType,
			"subject":       []map[string]any{{"name": n.file, "digest": map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
			"predicateType": demoPredicate,
			"predicate":     map[string]string{"case": "GRIDLOCK", "party": n.signer, "note": n.note},
		})
		if err != nil {
			return nil, err
		}
		res, err := submit(d, pw, signers[n.signer], stmt)
		if err != nil {
			return nil, fmt.Errorf("demo: submit %d: %w", i, err)
		}
		say("   leaf %d  %-12s %-22s %s", res.Index, n.signer, n.file, res.LeafHash)
		if res.Size == 3 {
			if oldCheckpoint, err = readFileCapped(d.path(checkpointName), 1<<16); err != nil {
				return nil, err
			}
		}
	}

	l, err := d.openRead()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	cp, size := l.Checkpoint()
	sum.Size, sum.Checkpoint = size, string(cp)
	say("4. custos checkpoint  (a C2SP signed note; golang.org/x/mod/sumdb/note verifies it)\n%s", indent(cp))

	logKey, err := verify.ParseLogKey(vkey)
	if err != nil {
		return nil, err
	}
	const idx = 3
	ip, err := l.ProveInclusion(idx)
	if err != nil {
		return nil, err
	}
	leaf, err := l.Leaf(idx)
	if err != nil {
		return nil, err
	}
	if _, err := verify.Inclusion(ip.Marshal(), leaf, logKey); err != nil {
		return nil, fmt.Errorf("demo: inclusion proof for leaf %d: %w", idx, err)
	}
	sum.InclusionIndex, sum.InclusionProof = idx, string(ip.Marshal())
	say("5. custos prove --index %d  (C2SP tlog-proof) -> verified against the checkpoint\n%s", idx, indent(ip.Marshal()))

	cons, err := l.ProveConsistency(3)
	if err != nil {
		return nil, err
	}
	if _, _, err := verify.Consistency(cons.Marshal(), oldCheckpoint, logKey); err != nil {
		return nil, fmt.Errorf("demo: consistency proof from size 3: %w", err)
	}
	sum.ConsistencyFrom, sum.ConsistencyProof = 3, string(cons.Marshal())
	say("6. custos prove --from 3  -> the size-3 checkpoint kept after leaf 2 is a prefix of size %d: verified", size)
	l.Close()

	rep, err := fsck(d, nil)
	if err != nil {
		return nil, fmt.Errorf("demo: fsck: %w", err)
	}
	sum.FsckOK = true
	say("7. custos fsck  -> ok: %d leaves, %d tree hashes recomputed, %d signatures verified, root %s",
		rep.LeavesChecked, rep.HashesChecked, rep.EntriesVerified, rep.Root)
	return sum, nil
}

func indent(b []byte) string {
	out := []byte("     ")
	for i, c := range b {
		out = append(out, c)
		if c == '\n' && i < len(b)-1 {
			out = append(out, "     "...)
		}
	}
	return string(out)
}
