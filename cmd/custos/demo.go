package main

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/custos-ledger/custos/verify"
)

// demoPassword encrypts the demo's throwaway keys. It is printed, because
// these keys protect nothing.
const demoPassword = "custos-demo"

func (e *env) demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "play a realistic multi-party case end to end on a fresh embedded ledger, then verify it",
		UsageText: "custos demo [--dir DIR] [--json]",
		Flags:     []cli.Flag{jsonFlag(), &cli.StringFlag{Name: "dir", Usage: "keep the demo ledger, keys and evidence here (must be new or empty)"}},
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
			out := e.stdout
			if c.Bool("json") {
				out = io.Discard
			}
			sum, err := runDemo(dir, out)
			if err != nil {
				return err
			}
			if c.String("dir") == "" {
				fmt.Fprintf(out, "\n(the demo ran in a temporary directory, now removed; use --dir DIR to keep it)\n")
			}
			if c.Bool("json") {
				return e.emit(c, sum, nil)
			}
			return nil
		},
	}
}

type demoSummary struct {
	Dir             string `json:"dir"`
	Ledger          string `json:"ledger"`
	Size            int64  `json:"size"`
	Checkpoint      string `json:"checkpoint"`
	InclusionIndex  int64  `json:"inclusion_index"`
	ConsistencyFrom int64  `json:"consistency_from"`
	FsckOK          bool   `json:"fsck_ok"`
	Rejections      int    `json:"rejections"`
}

// demoRun runs custos commands in-process, as a user would type them, and
// prints each command line and its output.
type demoRun struct {
	dir string
	out io.Writer
}

// run executes one command line; want is the exit code the step expects.
func (r *demoRun) run(want int, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	app, e := newApp(strings.NewReader(""), &stdout, &stderr)
	e.pw = staticPassword([]byte(demoPassword))
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = strings.ReplaceAll(a, r.dir+string(filepath.Separator), "")
		if strings.ContainsAny(shown[i], " \\") {
			shown[i] = fmt.Sprintf("%q", shown[i])
		}
	}
	fmt.Fprintf(r.out, "\n$ custos %s\n", strings.Join(shown, " "))
	err := app.Run(reorderArgs(app, append([]string{"custos"}, args...)))
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	if e.unknownCommand {
		code = exitUsage
	}
	for _, line := range strings.SplitAfter(stdout.String(), "\n") {
		if line != "" {
			fmt.Fprintf(r.out, "  %s", line)
		}
	}
	if err != nil {
		fmt.Fprintf(r.out, "  custos: %v (exit %d)\n", err, code)
	}
	if code != want {
		return "", fmt.Errorf("demo step `custos %s` exited %d, want %d: %v", strings.Join(args, " "), code, want, err)
	}
	return stdout.String(), nil
}

func (r *demoRun) say(format string, args ...any) { fmt.Fprintf(r.out, "\n# "+format+"\n", args...) }

// demoEvidence writes n deterministic pseudo-random bytes: a stand-in for
// an image that the demo can hash and hand over.
func demoEvidence(path string, seed string, n int) error {
	var b bytes.Buffer
	b.Grow(n)
	var ctr [8]byte
	for i := 0; b.Len() < n; i++ {
		binary.BigEndian.PutUint64(ctr[:], uint64(i))
		h := sha256.Sum256(append([]byte(seed), ctr[:]...))
		b.Write(h[:])
	}
	return os.WriteFile(path, b.Bytes()[:n], 0o644)
}

// runDemo plays the GRIDLOCK case: a national CERT images an HMI at a
// substation, hands the images to a neutral lab, one hand-over fails on a
// digest mismatch and is redone, the lab derives a malware sample and a
// network log extract, a facilitator receives copies, and everything is
// verified.
func runDemo(dir string, out io.Writer) (*demoSummary, error) {
	r := &demoRun{dir: dir, out: out}
	p := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	L := p("ledger")
	sum := &demoSummary{Dir: dir, Ledger: L}
	fmt.Fprintf(out, "custos demo: operation GRIDLOCK, in %s\n(demo keys are encrypted with the password %q)\n", dir, demoPassword)

	for _, d := range []string{"keys", "field", "lab-inbox", "lab-work", "witnesses", "policies"} {
		if err := os.MkdirAll(p(d), 0o755); err != nil {
			return nil, err
		}
	}
	evidence := []struct {
		path, seed string
		size       int
	}{
		{p("field", "hmi-disk.img"), "disk", 24 << 20},
		{p("field", "hmi-memory.lime"), "memory", 8 << 20},
	}
	for _, ev := range evidence {
		if err := demoEvidence(ev.path, ev.seed, ev.size); err != nil {
			return nil, err
		}
	}

	// save writes a step's standard output to a file (a proof, a cosigned
	// checkpoint, a trust policy), as a user would redirect it.
	save := func(path string) func(string) error {
		return func(out string) error { return os.WriteFile(path, []byte(out), 0o644) }
	}
	// as is a signing command line for party, with its key and the ledger.
	as := func(party string, args ...string) []string {
		return append(args, "--as", party, "--key", p("keys", party), "--ledger", L)
	}
	// lastCosigned is the size of the latest checkpoint the witnesses
	// cosigned: the size their next consistency proof starts from.
	lastCosigned := func() int64 {
		sizes, err := cosignedSizes(ledgerDir(L))
		if err != nil || len(sizes) == 0 {
			return 0
		}
		return sizes[len(sizes)-1]
	}
	steps := []struct {
		say  string
		want int
		args []string
		lazy func() []string // args computed when the step runs
		keep bool            // keep the checkpoint after this step
		prep func() error
		post func(stdout string) error
	}{
		{say: "The neutral facilitator creates the case ledger; leaf 0 enrols its admin.",
			args: []string{"init", "--ledger", L, "--origin", "ledger.facilitator.example/gridlock"}},
		{say: "Each party makes its own key pair; private keys never leave their owners.",
			args: []string{"key", "generate", "--out", p("keys", "cert-ua"), "--type", "ed25519"}},
		{args: []string{"key", "generate", "--out", p("keys", "neutral-lab"), "--type", "ecdsa-p256"}},
		{args: []string{"key", "generate", "--out", p("keys", "facilitator"), "--type", "ed25519"}},
		{args: []string{"key", "generate", "--out", p("keys", "second-lab"), "--type", "ed25519"}},
		{say: "The admin enrols them; each enrolment is also signed by the party's key (proof of possession).",
			args: []string{"party", "enroll", "--ledger", L, "--name", "cert-ua", "--org", "CERT-UA", "--role", "collector", "--role", "custodian", "--role", "analyst", "--pubkey", p("keys", "cert-ua.pub"), "--key", p("keys", "cert-ua")}},
		{args: []string{"party", "enroll", "--ledger", L, "--name", "neutral-lab", "--org", "Neutral Forensic Lab", "--role", "analyst", "--role", "custodian", "--pubkey", p("keys", "neutral-lab.pub"), "--key", p("keys", "neutral-lab")}},
		{args: []string{"party", "enroll", "--ledger", L, "--name", "second-lab", "--org", "Second Opinion Lab", "--role", "analyst", "--pubkey", p("keys", "second-lab.pub"), "--key", p("keys", "second-lab")}},
		{args: []string{"party", "enroll", "--ledger", L, "--name", "facilitator", "--org", "Neutral Facilitator", "--role", "facilitator", "--pubkey", p("keys", "facilitator.pub"), "--key", p("keys", "facilitator")}},
		{say: "CERT-UA images the HMI of substation 7 through a write blocker, and captures its memory.",
			args: []string{"acquire", p("field", "hmi-disk.img"), "--exhibit", "CERT-UA-2026-0042", "--source", "HV-substation-7 HMI, SN 4411", "--method", "dd via hardware write blocker", "--tool", "dd 9.1", "--location", "Substation 7, Kharkiv oblast", "--hash", "sha256,sha512,sha1,md5", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L}},
		{args: []string{"acquire", p("field", "hmi-memory.lime"), "--exhibit", "CERT-UA-2026-0043", "--source", "HV-substation-7 HMI, SN 4411, live RAM", "--method", "LiME over USB", "--tool", "LiME 1.9.1", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L}},
		{say: "Registering the same bytes twice returns the existing exhibit.", keep: true,
			args: []string{"acquire", p("field", "hmi-disk.img"), "--exhibit", "CERT-UA-2026-0099", "--source", "again", "--method", "again", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L}},
		{say: "CERT-UA releases both images to the neutral lab.",
			args: []string{"release", "CERT-UA-2026-0042", "--to", "neutral-lab", "--reason", "forensic analysis", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L},
			prep: func() error { return copyFile(p("field", "hmi-disk.img"), p("lab-inbox", "hmi-disk.img"), false) }},
		{args: []string{"release", "CERT-UA-2026-0043", "--to", "neutral-lab", "--reason", "forensic analysis", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L},
			prep: func() error { return copyFile(p("field", "hmi-memory.lime"), p("lab-inbox", "hmi-memory.lime"), true) }},
		{say: "The lab re-hashes what arrived and accepts the disk image.",
			args: []string{"accept", "CERT-UA-2026-0042", "--file", p("lab-inbox", "hmi-disk.img"), "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{say: "The memory image was damaged in transit: the mismatch is logged as a rejection (exit 1) and CERT-UA keeps it.",
			want: exitVerifyFailed,
			args: []string{"accept", "CERT-UA-2026-0043", "--file", p("lab-inbox", "hmi-memory.lime"), "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{say: "CERT-UA sends it again; this time the digests match.",
			args: []string{"release", "CERT-UA-2026-0043", "--to", "neutral-lab", "--reason", "re-sent after digest mismatch", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L},
			prep: func() error { return copyFile(p("field", "hmi-memory.lime"), p("lab-inbox", "hmi-memory.lime"), false) }},
		{args: []string{"accept", "CERT-UA-2026-0043", "--file", p("lab-inbox", "hmi-memory.lime"), "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{say: "The lab extracts a dropper from the disk image and a network log from the memory image.",
			args: []string{"derive", "CERT-UA-2026-0042", "--file", p("lab-work", "dropper.bin"), "--kind", "extract", "--note", `dropper from C:\Windows\Temp\svchost32.exe`, "--tool", "Sleuth Kit 4.12", "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L},
			prep: func() error {
				return sliceFile(p("lab-inbox", "hmi-disk.img"), p("lab-work", "dropper.bin"), 1<<20, 300<<10)
			}},
		{args: []string{"derive", "CERT-UA-2026-0043", "--file", p("lab-work", "netlog.pcapng"), "--kind", "extract", "--note", "connections to 203.0.113.7:443 every 300 s", "--tool", "Volatility 3.2", "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L},
			prep: func() error {
				return sliceFile(p("lab-inbox", "hmi-memory.lime"), p("lab-work", "netlog.pcapng"), 2<<20, 64<<10)
			}},
		{say: "The lab seals the original disk image and hands copies of its extracts to the facilitator.",
			args: []string{"seal", "CERT-UA-2026-0042", "--seal-id", "NFL-S-0192", "--reason", "analysis complete", "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{args: []string{"release", "CERT-UA-2026-0042/D1", "--to", "facilitator", "--reason", "copy for the attribution panel", "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{args: []string{"accept", "CERT-UA-2026-0042/D1", "--file", p("lab-work", "dropper.bin"), "--as", "facilitator", "--key", p("keys", "facilitator"), "--ledger", L}},
		{args: []string{"release", "CERT-UA-2026-0043/D1", "--to", "facilitator", "--reason", "copy for the attribution panel", "--as", "neutral-lab", "--key", p("keys", "neutral-lab"), "--ledger", L}},
		{args: []string{"accept", "CERT-UA-2026-0043/D1", "--file", p("lab-work", "netlog.pcapng"), "--as", "facilitator", "--key", p("keys", "facilitator"), "--ledger", L}},
		{say: "A release by someone who does not hold the exhibit is refused, naming the rule (exit 8).",
			want: exitRefused,
			args: []string{"release", "CERT-UA-2026-0043", "--to", "facilitator", "--as", "cert-ua", "--key", p("keys", "cert-ua"), "--ledger", L}},
		{say: "Where is everything, and how did the disk image travel?",
			args: []string{"status", "--ledger", L}},
		{args: []string{"history", "CERT-UA-2026-0043", "--ledger", L}},
		{args: []string{"history", "CERT-UA-2026-0042", "--format", "mermaid", "--ledger", L}},
		{say: "The log's signed checkpoint (a C2SP signed note) and an inclusion proof (C2SP tlog-proof).",
			args: []string{"checkpoint", "--ledger", L}},
		{args: []string{"prove", "--index", "12", "--ledger", L}},
		{say: "fsck recomputes every leaf, link, tree hash and the root, and replays every signature and custody rule.",
			args: []string{"fsck", "--ledger", L}},
		{say: "Two independent witnesses co-sign the checkpoint, each after checking a consistency proof from what it signed before.",
			args: []string{"witness", "init", "--name", "witness.court-registry.example", "--out", p("witnesses", "registry")}},
		{args: []string{"witness", "init", "--name", "witness.ngo.example", "--out", p("witnesses", "ngo")}},
		{args: []string{"checkpoint", "--vkey", "--ledger", L}, post: save(p("log.vkey"))},
		{args: []string{"prove", "--from", "0", "--ledger", L}, post: save(p("proof-from-0.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "registry"), "--proof", p("proof-from-0.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-registry.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "ngo"), "--proof", p("proof-from-0.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-ngo.txt"))},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-registry.txt")}},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-ngo.txt")}},
		{say: "The tribunal's trust policy: the log key, both witnesses, quorum 2.",
			args: []string{"trust", "init", "--log-key", p("log.vkey"), "--witness", p("witnesses", "registry", "witness.vkey"), "--witness", p("witnesses", "ngo", "witness.vkey"), "--quorum", "2"},
			post: save(p("trust.policy"))},
		{say: "Attribution. Three organisations state findings drawn from the exhibits, each graded on the Admiralty scale.",
			args: as("cert-ua", "finding", "add", "--id", "F-01", "--claim", "the HMI beaconed to 203.0.113.7:443 every 300 s", "--category", "infrastructure",
				"--method", "SOLVE-IT:DFT-1042", "--input", "CERT-UA-2026-0043/D1", "--source-reliability", "B", "--credibility", "2", "--confidence", "80")},
		{args: as("neutral-lab", "finding", "add", "--id", "F-02", "--claim", "the dropper shares its custom RC4 key schedule with APT-X's GRIDSTRIKE family", "--category", "malware",
			"--method", "LAB-SOP:MALWARE-SIM-3", "--input", "CERT-UA-2026-0042/D1", "--source-reliability", "A", "--credibility", "2", "--confidence", "85")},
		{args: as("second-lab", "finding", "add", "--id", "F-03", "--claim", "persistence through a scheduled task named as in APT-X's known playbook", "--category", "ttp",
			"--method", "SOLVE-IT:DFT-1014", "--input", "CERT-UA-2026-0042/D1", "--source-reliability", "B", "--credibility", "2", "--confidence", "75")},
		{say: "A contradicting finding: the C2 address was used by another group. CERT-UA rebuts it with hosting records.",
			args: as("second-lab", "finding", "add", "--id", "F-04", "--claim", "203.0.113.7 served criminal group Y's botnet in 2024", "--category", "infrastructure",
				"--method", "LAB-SOP:PDNS-1", "--input", "CERT-UA-2026-0043/D1", "--source-reliability", "B", "--credibility", "2", "--confidence", "70")},
		{args: as("cert-ua", "finding", "add", "--id", "F-05", "--claim", "203.0.113.7 was reassigned in January 2026, after group Y's use ended", "--category", "infrastructure",
			"--method", "SOLVE-IT:DFT-1002", "--input", "CERT-UA-2026-0043/D1", "--source-reliability", "B", "--credibility", "2", "--confidence", "80", "--rebuts", "F-04")},
		{say: "The second lab reproduces the malware finding; a lab cannot reproduce its own finding (exit 8).",
			args: as("second-lab", "finding", "reproduce", "F-02", "--result", "confirmed")},
		{want: exitRefused, args: as("neutral-lab", "finding", "reproduce", "F-02", "--result", "confirmed")},
		{say: "The facilitator states the hypothesis and registers two attribution policies, co-signed by the parties, before anyone evaluates.",
			args: as("facilitator", "hypothesis", "add", "--id", "H-1", "--statement", "Operation GRIDLOCK is attributable to actor APT-X",
				"--supports", "F-01,F-02,F-03", "--contradicts", "F-04", "--likelihood", "very likely")},
		{args: as("facilitator", "policy", "register", p("policies", "reasonable-grounds.yaml"), "--cosign-key", p("keys", "cert-ua"), "--cosign-key", p("keys", "neutral-lab")),
			prep: writeDemoPolicies(p("policies"))},
		{args: as("facilitator", "policy", "register", p("policies", "clear-and-convincing.yaml"), "--cosign-key", p("keys", "cert-ua"), "--cosign-key", p("keys", "neutral-lab"))},
		{say: "The witnesses cosign the new checkpoint, so the evaluation can count it as witnessed.",
			lazy: func() []string { return []string{"prove", "--from", fmt.Sprint(lastCosigned()), "--ledger", L} }, post: save(p("proof-2.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "registry"), "--proof", p("proof-2.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-registry-2.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "ngo"), "--proof", p("proof-2.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-ngo-2.txt"))},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-registry-2.txt")}},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-ngo-2.txt")}},
		{say: "Evaluated under un-gge-l2, H-1 reaches \"reasonable grounds\": three independent lines, one reproduced, the contradiction rebutted.",
			args: as("facilitator", "evaluate", "H-1", "--policy", "un-gge-l2", "--trust", p("trust.policy"))},
		{say: "Under un-gge-l3 it falls short of \"clear and convincing\": the trace says which rules fail and why.",
			args: as("facilitator", "evaluate", "H-1", "--policy", "un-gge-l3", "--trust", p("trust.policy"))},
		{say: "The witnesses cosign again, so the bundle's checkpoint covers the verdicts.",
			lazy: func() []string { return []string{"prove", "--from", fmt.Sprint(lastCosigned()), "--ledger", L} }, post: save(p("proof-3.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "registry"), "--proof", p("proof-3.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-registry-3.txt"))},
		{args: []string{"witness", "cosign", "--state", p("witnesses", "ngo"), "--proof", p("proof-3.txt"), "--log-key", p("log.vkey")}, post: save(p("cosigned-ngo-3.txt"))},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-registry-3.txt")}},
		{args: []string{"checkpoint", "attach", "--ledger", L, p("cosigned-ngo-3.txt")}},
		{say: "The facilitator exports the memory image's custody (with its derived network log) as one bundle for the tribunal.",
			args: []string{"export", "--exhibit", "CERT-UA-2026-0043", "--out", p("gridlock-0043.custos"), "--trust", p("trust.policy"), "--ledger", L}},
		{say: "The tribunal verifies it offline, with its own trust policy and the evidence files it received.",
			args: []string{"verify", p("gridlock-0043.custos"), "--trust", p("trust.policy"), "--evidence", p("tribunal-evidence")},
			prep: func() error {
				if err := os.MkdirAll(p("tribunal-evidence"), 0o755); err != nil {
					return err
				}
				return copyFile(p("field", "hmi-memory.lime"), p("tribunal-evidence", "hmi-memory.lime"), false)
			}},
	}
	var oldCheckpoint []byte
	for _, s := range steps {
		if s.say != "" {
			r.say("%s", s.say)
		}
		if s.prep != nil {
			if err := s.prep(); err != nil {
				return nil, err
			}
		}
		args := s.args
		if s.lazy != nil {
			args = s.lazy()
		}
		out, err := r.run(s.want, args...)
		if err != nil {
			return nil, err
		}
		if s.post != nil {
			if err := s.post(out); err != nil {
				return nil, err
			}
		}
		if s.want == exitVerifyFailed {
			sum.Rejections++
		}
		if s.keep { // after the acquisitions: keep a checkpoint, as a witness would
			b, err := os.ReadFile(filepath.Join(L, checkpointName))
			if err != nil {
				return nil, err
			}
			oldCheckpoint = b
		}
	}

	// Check the proofs as a tribunal would, with the published key alone.
	d := ledgerDir(L)
	_, vkey, err := d.readVerifier()
	if err != nil {
		return nil, err
	}
	logKey, err := verify.ParseLogKey(vkey)
	if err != nil {
		return nil, err
	}
	l, err := d.openRead()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	cp, size := l.Checkpoint()
	sum.Size, sum.Checkpoint = size, string(cp)
	const idx = 12
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
	old, err := verify.Checkpoint(oldCheckpoint, logKey)
	if err != nil {
		return nil, err
	}
	cons, err := l.ProveConsistency(old.Size)
	if err != nil {
		return nil, err
	}
	if _, _, err := verify.Consistency(cons.Marshal(), oldCheckpoint, logKey); err != nil {
		return nil, fmt.Errorf("demo: consistency proof from size %d: %w", old.Size, err)
	}
	sum.InclusionIndex, sum.ConsistencyFrom, sum.FsckOK = idx, old.Size, true
	r.say("Verified offline with the published log key alone: leaf %d is in the size-%d tree, and the size-%d checkpoint kept after the acquisitions is a prefix of it.", idx, size, old.Size)
	return sum, nil
}

// demoPolicies are the example policies of testdata/policies, embedded
// (TestDemoPoliciesAreTheExamples keeps the copies equal).
//
//go:embed policies/*.yaml
var demoPolicies embed.FS

// writeDemoPolicies writes the example policies into dir, as a facilitator
// would have them on disk.
func writeDemoPolicies(dir string) func() error {
	return func() error {
		files, err := fs.Glob(demoPolicies, "policies/*.yaml")
		if err != nil {
			return err
		}
		for _, f := range files {
			b, err := demoPolicies.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

// copyFile copies a file; damage flips one byte in the middle, as a bad
// transfer would.
func copyFile(src, dst string, damage bool) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if damage && len(b) > 0 {
		b[len(b)/2] ^= 0x20
	}
	return os.WriteFile(dst, b, 0o644)
}

// sliceFile writes n bytes of src from offset off: a stand-in for carving.
func sliceFile(src, dst string, off, n int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b[off:off+n], 0o644)
}
