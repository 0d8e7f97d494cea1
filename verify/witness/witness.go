// Package witness is a transparency-log witness: it cosigns a log's
// checkpoint only after checking that the log is append-only since the
// last checkpoint it cosigned for that log, and it keeps the proof when the
// log equivocates. It implements the checks of a C2SP tlog-witness
// (https://c2sp.org/tlog-witness) add-checkpoint request over its body, a
// ledger.ConsistencyProof, so that an HTTP server can call Cosign as it is;
// cosignatures are C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature),
// made with github.com/transparency-dev/formats/note.
//
// A witness's state is a directory; every file in it is replaced
// atomically (ledger.WriteFileAtomic), so a crash leaves the old file or
// the new one:
//
//	witness.key                        the witness's Ed25519 key, password-encrypted (0600)
//	witness.pub                        its public key (PEM)
//	witness.vkey                       its note verifier key, name+hash+base64: the line
//	                                   a trust policy's witness line takes
//	logs/<sha256 of origin>.vkey       the key of each log it witnesses (trust on first use)
//	state/<sha256 of origin>.checkpoint
//	                                   the last checkpoint it cosigned for that log,
//	                                   with the log's signature and its cosignature
//	equivocation/<unix time>-<sha256 of origin>.txt
//	                                   two checkpoints of one size with different roots,
//	                                   both signed by the log key: a proof that the log
//	                                   showed two histories
//	LOCK                               held (flock) by the process that has it open
//
// (sha256 of origin is lower-case hex.) The compare-and-update of a log's
// state is safe within one process (a mutex) and against crashes (the
// atomic file); it assumes one process per state directory, which Open
// enforces with an exclusive lock on LOCK (a second Open gets ErrInUse),
// as badger does for a ledger.
package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/custos-ledger/custos/custody"
	"github.com/custos-ledger/custos/ledger"
	"github.com/custos-ledger/custos/verify"
)

// Files and directories of a witness's state directory.
const (
	keyName         = "witness.key"
	pubName         = "witness.pub"
	vkeyName        = "witness.vkey"
	lockName        = "LOCK"
	logsDir         = "logs"
	stateDir        = "state"
	equivocationDir = "equivocation"
)

var (
	// ErrUnknownLog is returned by Cosign for a checkpoint whose origin has
	// no registered key (see AddLog). Check with errors.Is.
	ErrUnknownLog = errors.New("witness: no key registered for the log")

	// ErrLogKeyChanged is returned by AddLog when the origin is already
	// registered with another key: a witness does not follow a log to a
	// new key on the log's word. Check with errors.Is.
	ErrLogKeyChanged = errors.New("witness: the log's origin is registered with another key")

	// ErrBadProof is returned by Cosign when the consistency proof does not
	// prove the new checkpoint extends the one it cosigned last
	// (tlog-witness's 422). Check with errors.Is.
	ErrBadProof = errors.New("witness: consistency proof does not verify")

	// ErrRollback is returned by Cosign for a checkpoint smaller than the
	// one it cosigned last for that log. Check with errors.Is.
	ErrRollback = errors.New("witness: checkpoint is older than one already cosigned")

	// ErrInUse is returned by Open when another process (or another Open
	// in this one) holds the state directory. Check with errors.Is.
	ErrInUse = errors.New("witness state in use by another process")
)

// A ConflictError is returned by Cosign when the request's old size is not
// the size of the checkpoint the witness cosigned last for the log (0 if
// none): tlog-witness's 409, whose body is StateSize, so the caller can
// send a proof from there.
type ConflictError struct {
	Origin    string
	Old       int64 // the request's old size
	StateSize int64 // the size the witness last cosigned
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness: old size %d is not the witness's latest size %d for origin %q: send a consistency proof from size %d",
		e.Old, e.StateSize, e.Origin, e.StateSize)
}

// A Witness is an open state directory. Its methods are safe for
// concurrent use.
type Witness struct {
	dir      string
	name     string
	vkey     string
	signer   note.Signer   // cosignature/v1
	verifier note.Verifier // of signer's cosignatures
	unlock   func() error

	mu sync.Mutex // serialises reading and writing log keys and states
}

// Init creates a witness state directory at dir (which must not exist or
// be empty) with a new Ed25519 key encrypted with password, named name,
// and returns the key's note verifier key (name+hash+base64), also written
// to witness.vkey.
func Init(dir, name string, password []byte) (vkey string, err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("witness: %s exists and is not empty; choose a new directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	priv, pub, err := custody.GenerateKey(custody.KeyEd25519, password)
	if err != nil {
		return "", err
	}
	pk, err := custody.ParsePublicKey(pub)
	if err != nil {
		return "", err
	}
	if vkey, err = pk.NoteVerifierKey(name); err != nil {
		return "", fmt.Errorf("witness: name %q cannot name a note key: %w", name, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, logsDir), filepath.Join(dir, stateDir), filepath.Join(dir, equivocationDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{keyName, priv, 0o600}, {pubName, pub, 0o644}, {vkeyName, []byte(vkey + "\n"), 0o644}} {
		if err := ledger.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return "", err
		}
	}
	return vkey, nil
}

// Open opens the state directory dir made by Init, decrypting the key
// with password, and locks it until Close.
func Open(dir string, password []byte) (*Witness, error) {
	b, err := ledger.ReadFileCapped(filepath.Join(dir, vkeyName), 1<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("witness: %s is not a witness state directory (no %s); create one with custos witness init", dir, vkeyName)
	}
	if err != nil {
		return nil, err
	}
	vkey := strings.TrimSpace(string(b))
	name, _, _ := strings.Cut(vkey, "+")
	unlock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	w, err := open(dir, name, vkey, password)
	if err != nil {
		unlock()
		return nil, err
	}
	w.unlock = unlock
	return w, nil
}

func open(dir, name, vkey string, password []byte) (*Witness, error) {
	pem, err := ledger.ReadFileCapped(filepath.Join(dir, keyName), custody.MaxKeyFileSize)
	if err != nil {
		return nil, err
	}
	k, err := custody.ParsePrivateKey(pem, password)
	if err != nil {
		return nil, err
	}
	// witness.vkey is what others were given; it must be this key's.
	if got, err := k.Public().NoteVerifierKey(name); err != nil || got != vkey {
		return nil, fmt.Errorf("witness: %s does not hold the verifier key of %s", filepath.Join(dir, vkeyName), filepath.Join(dir, keyName))
	}
	s, err := k.CosignatureSigner(name)
	if err != nil {
		return nil, err
	}
	cv, err := tnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return nil, err
	}
	v, err := tnote.NewVerifierForCosignatureV1(cv)
	if err != nil {
		return nil, err
	}
	return &Witness{dir: dir, name: name, vkey: vkey, signer: s, verifier: v}, nil
}

// Close releases the state directory.
func (w *Witness) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unlock == nil {
		return nil
	}
	err := w.unlock()
	w.unlock = nil
	return err
}

// Name returns the witness's name, the name of its key.
func (w *Witness) Name() string { return w.name }

// VKey returns the witness's note verifier key.
func (w *Witness) VKey() string { return w.vkey }

// AddLog registers a log's note verifier key (name+hash+base64, as custos
// checkpoint --vkey prints it); its name is the log's origin. The first
// key given for an origin is trusted (trust on first use); the same key
// again is accepted, another key for the same origin is refused with
// ErrLogKeyChanged.
func (w *Witness) AddLog(logVKey string) error {
	v, err := verify.ParseLogKey(logVKey)
	if err != nil {
		return err
	}
	vkey := strings.TrimSpace(logVKey)
	w.mu.Lock()
	defer w.mu.Unlock()
	path := w.originPath(logsDir, v.Name(), ".vkey")
	switch old, err := ledger.ReadFileCapped(path, 1<<10); {
	case err == nil:
		if have := strings.TrimSpace(string(old)); have != vkey {
			return fmt.Errorf("%w: origin %q has key %s, refusing %s", ErrLogKeyChanged, v.Name(), have, vkey)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return ledger.WriteFileAtomic(path, []byte(vkey+"\n"), 0o644)
}

// logKey returns the registered key of origin.
func (w *Witness) logKey(origin string) (note.Verifier, error) {
	b, err := ledger.ReadFileCapped(w.originPath(logsDir, origin, ".vkey"), 1<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: origin %q", ErrUnknownLog, origin)
	}
	if err != nil {
		return nil, err
	}
	v, err := verify.ParseLogKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("witness: key file of origin %q: %w", origin, err)
	}
	if v.Name() != origin {
		return nil, fmt.Errorf("witness: key file of origin %q holds a key for %q", origin, v.Name())
	}
	return v, nil
}

// Cosign checks a C2SP tlog-witness add-checkpoint request body (a
// ledger.ConsistencyProof: "old N", proof hashes, a blank line, the signed
// checkpoint) and, if the checkpoint extends what the witness cosigned last
// for its log, records it as the log's state and returns the checkpoint
// note with the witness's cosignature line added after the signatures it
// had (the log's first).
//
// The checks, in order:
//
//   - the checkpoint carries a valid signature by the log key registered
//     for its origin (ErrUnknownLog if there is none; a *verify.Error if it
//     does not verify);
//   - with no state for the log (first sight, trust on first use) old must
//     be 0 and the proof empty;
//   - otherwise a checkpoint of the state's size with another root is an
//     equivocation: both notes are saved in equivocation/ and the error
//     wraps verify.ErrEquivocation; a smaller checkpoint is ErrRollback;
//     old must be the state's size (*ConflictError); and the proof must
//     prove the state's tree a prefix of the new one (ErrBadProof). The
//     same checkpoint again is cosigned again.
//
// The new state is written (atomically) before the cosigned note is
// returned, so a cosignature is never handed out for a checkpoint the
// witness could later be talked out of. Malformed input is a
// *ledger.ParseError. now names the equivocation record; the
// cosignature's timestamp is the time of signing, from the system clock
// (transparency-dev/formats/note reads it).
func (w *Witness) Cosign(proofText []byte, now time.Time) (cosigned []byte, err error) {
	p, err := ledger.ParseConsistencyProof(proofText)
	if err != nil {
		return nil, err
	}
	origin, err := noteOrigin(p.Checkpoint)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	logV, err := w.logKey(origin)
	if err != nil {
		return nil, err
	}
	c, err := verify.Checkpoint(p.Checkpoint, logV)
	if err != nil {
		return nil, err
	}
	statePath := w.originPath(stateDir, origin, ".checkpoint")
	state, err := ledger.ReadFileCapped(statePath, ledger.MaxCheckpointSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if p.Old != 0 {
			return nil, &ConflictError{Origin: origin, Old: p.Old, StateSize: 0}
		}
		if len(p.Path) != 0 {
			return nil, fmt.Errorf("%w: a proof from size 0 has no hashes, this one has %d", ErrBadProof, len(p.Path))
		}
	case err != nil:
		return nil, err
	default:
		st, err := verify.Checkpoint(state, logV)
		if err != nil {
			return nil, fmt.Errorf("witness: state %s does not verify with the log key: %w", statePath, err)
		}
		switch {
		case c.Size == st.Size && c.Root != st.Root:
			return nil, w.equivocation(origin, st.Size, state, p.Checkpoint, logV, now)
		case c.Size < st.Size:
			return nil, fmt.Errorf("%w: origin %q checkpoint of size %d, but the witness cosigned size %d", ErrRollback, origin, c.Size, st.Size)
		case p.Old != st.Size:
			return nil, &ConflictError{Origin: origin, Old: p.Old, StateSize: st.Size}
		}
		if _, _, err := verify.Consistency(proofText, state, logV); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadProof, err)
		}
	}
	out, newState, err := w.cosign(p.Checkpoint, logV)
	if err != nil {
		return nil, err
	}
	if err := ledger.WriteFileAtomic(statePath, newState, 0o644); err != nil {
		return nil, fmt.Errorf("witness: recording the new state: %w", err)
	}
	return out, nil
}

// cosign returns signed with the witness's cosignature added after the
// signatures it had, and the witness's state note: the text with the log's
// signature and the cosignature only.
func (w *Witness) cosign(signed []byte, logV note.Verifier) (out, state []byte, err error) {
	n, err := note.Open(signed, note.VerifierList(logV))
	if err != nil {
		return nil, nil, err
	}
	// note.Sign writes n.Sigs (the log's), then n.UnverifiedSigs (other
	// witnesses', kept as given; a cosignature of ours from before is
	// replaced), then the new signature.
	if out, err = note.Sign(n, w.signer); err != nil {
		return nil, nil, err
	}
	m, err := note.Open(out, note.VerifierList(logV, w.verifier))
	if err != nil {
		return nil, nil, fmt.Errorf("witness: own cosignature does not verify: %w", err)
	}
	m.UnverifiedSigs = nil
	if state, err = note.Sign(m); err != nil {
		return nil, nil, err
	}
	return out, state, nil
}

// equivocation records the checkpoint the witness cosigned and the
// conflicting one it was handed, and returns the error refusing it.
func (w *Witness) equivocation(origin string, size int64, cosigned, refused []byte, logV note.Verifier, now time.Time) error {
	_, _, verr := verify.Consistency((&ledger.ConsistencyProof{Old: size, Checkpoint: refused}).Marshal(), cosigned, logV)
	if !errors.Is(verr, verify.ErrEquivocation) {
		verr = fmt.Errorf("log %q signed two checkpoints of size %d with different roots: %w", origin, size, verify.ErrEquivocation)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# custos witness %s: proof of log equivocation, recorded %s\n", w.name, now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Both checkpoints below are of size %d for origin %s, with different roots, and both\n", size, origin)
	fmt.Fprintf(&b, "# carry a valid signature by the log key %s+%08x (check with golang.org/x/mod/sumdb/note).\n", logV.Name(), logV.KeyHash())
	b.WriteString("# The checkpoint this witness cosigned:\n")
	b.Write(cosigned)
	b.WriteString("# The checkpoint it refused:\n")
	b.Write(refused)
	base := fmt.Sprintf("%d-%s", now.Unix(), originHash(origin))
	path := filepath.Join(w.dir, equivocationDir, base+".txt")
	// Never overwrite an earlier record (two in one second).
	for i := 1; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			break
		}
		path = filepath.Join(w.dir, equivocationDir, fmt.Sprintf("%s-%d.txt", base, i))
	}
	if err := ledger.WriteFileAtomic(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("witness: refusing the checkpoint, but saving the proof failed (%v): %w", err, verr)
	}
	return fmt.Errorf("witness: refusing the checkpoint; both notes saved in %s: %w", path, verr)
}

// noteOrigin returns the first line of a signed note's text, without
// checking any signature.
func noteOrigin(signed []byte) (string, error) {
	_, err := note.Open(signed, note.VerifierList())
	var u *note.UnverifiedNoteError
	if !errors.As(err, &u) {
		return "", &ledger.ParseError{What: "checkpoint", Msg: "not a signed note"}
	}
	origin, _, ok := strings.Cut(u.Note.Text, "\n")
	if !ok || origin == "" {
		return "", &ledger.ParseError{What: "checkpoint", Field: "origin", Msg: "missing"}
	}
	return origin, nil
}

func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

func (w *Witness) originPath(dir, origin, ext string) string {
	return filepath.Join(w.dir, dir, originHash(origin)+ext)
}
