package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// TestDemoLeaksNoKeyMaterial runs the demo twice (text and --json) and
// searches everything it produced for the private keys it made: standard
// output and error, and every file under its directory but the encrypted
// key files themselves (the ledger store, checkpoints, the bundle with its
// report, trust policy, witness state). Each key is decrypted with the
// demo's password and looked for as raw bytes, hex and base64 of the
// private scalar or seed, and of its unencrypted PKCS #8 encoding. (The
// demo prints its own throwaway password on purpose; that is not looked
// for.) Under the race detector the demo takes minutes: .ci/run runs this
// test without it.
func TestDemoLeaksNoKeyMaterial(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("runs the demo twice; .ci/run runs it without -race")
	}
	root := t.TempDir()
	var outputs [][]byte
	for _, mode := range []string{"text", "json"} {
		dir := filepath.Join(root, mode)
		args := []string{"custos", "demo", "--dir", dir}
		if mode == "json" {
			args = append(args, "--json")
		}
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("custos demo (%s) = exit %d\n%s", mode, code, stderr.String())
		}
		outputs = append(outputs, stdout.Bytes(), stderr.Bytes())
	}

	type secret struct {
		file string
		what string
		b    []byte
	}
	var secrets []secret
	var scanned []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".key") {
			return err
		}
		pemBytes, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.StaticPasswordFunc([]byte(demoPassword)))
		if err != nil {
			t.Errorf("%s: decrypting with the demo password: %v", path, err)
			return nil
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		secrets = append(secrets, secret{path, "PKCS #8", der})
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			secrets = append(secrets, secret{path, "Ed25519 seed", k.Seed()})
		case *ecdsa.PrivateKey:
			d, err := k.Bytes()
			if err != nil {
				return err
			}
			secrets = append(secrets, secret{path, "ECDSA scalar", d})
		default:
			t.Errorf("%s: unexpected key type %T", path, priv)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) < 10 {
		t.Fatalf("found %d key secrets in the demo's directories; want the log, admin, party and witness keys of two runs", len(secrets))
	}

	// Every form a key could leak in.
	forms := func(b []byte) map[string][]byte {
		return map[string][]byte{
			"raw":           b,
			"hex":           []byte(hex.EncodeToString(b)),
			"HEX":           []byte(strings.ToUpper(hex.EncodeToString(b))),
			"base64":        []byte(base64.StdEncoding.EncodeToString(b)[:len(b)*4/3-4]),
			"base64url":     []byte(base64.URLEncoding.EncodeToString(b)[:len(b)*4/3-4]),
			"base64 (mid)":  []byte(base64.StdEncoding.EncodeToString(b[1:])[:(len(b)-1)*4/3-4]),
			"base64 (end2)": []byte(base64.StdEncoding.EncodeToString(b[2:])[:(len(b)-2)*4/3-4]),
		}
	}
	check := func(where string, data []byte) {
		for _, s := range secrets {
			for form, needle := range forms(s.b) {
				if bytes.Contains(data, needle) {
					t.Errorf("%s holds the %s of %s (%s)", where, s.what, s.file, form)
				}
			}
		}
	}
	for i, out := range outputs {
		check([]string{"demo stdout", "demo stderr", "demo --json stdout", "demo --json stderr"}[i], out)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".key") || !d.Type().IsRegular() {
			return err
		}
		data, err := readUpToHole(path)
		if err != nil {
			return err
		}
		scanned = append(scanned, path)
		check(path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var bundles int
	for _, p := range scanned {
		if strings.HasSuffix(p, ".custos") {
			bundles++
		}
	}
	if bundles < 2 || len(scanned) < 20 {
		t.Fatalf("scanned %d files, %d bundles; the walk missed the demo's output", len(scanned), bundles)
	}
	t.Logf("%d key secrets (%d keys) looked for in 4 outputs and %d files: none found", len(secrets), len(secrets)/2, len(scanned))
}

// readUpToHole reads a file up to its first hole: badger preallocates its
// log files sparsely, gigabytes of nothing after the data.
func readUpToHole(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	end, err := f.Seek(0, 4) // SEEK_HOLE
	if err != nil {
		return io.ReadAll(f)
	}
	b := make([]byte, end)
	_, err = f.ReadAt(b, 0)
	if err == io.EOF {
		err = nil
	}
	return b, err
}
