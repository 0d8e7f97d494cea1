package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/custos-ledger/custos/ledger/badgerstore"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"custos": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command line end to end: each testdata/script file
// is a session at a shell, with real keys, a real badger directory and the
// real binary.
func TestScripts(t *testing.T) {
	held := map[string]*badgerstore.Store{}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		// [race]: the tests run under the race detector, where a second
		// full demo costs over a minute.
		Condition: func(cond string) (bool, error) {
			if cond == "race" {
				return raceEnabled, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			td, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
			env.Setenv("CUSTOS_TESTDATA", td)
			return err
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exitcode N prog args...: run prog, require exit code N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N prog [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				cmd := exec.Command(args[1], args[2:]...)
				cmd.Dir = ts.MkAbs(".")
				cmd.Env = scriptEnv(ts)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err = cmd.Run()
				ts.Stdout().Write(stdout.Bytes())
				ts.Stderr().Write(stderr.Bytes())
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited with %d, want %d\nstderr: %s", args[1], got, want, stderr.String())
				}
			},
			// holdlock DIR / releaselock DIR: this test process opens
			// (and so locks) the ledger store at DIR/store.
			"holdlock": func(ts *testscript.TestScript, neg bool, args []string) {
				st, err := badgerstore.Open(filepath.Join(ts.MkAbs(args[0]), "store"), badgerstore.Options{})
				if err != nil {
					ts.Fatalf("holdlock: %v", err)
				}
				held[args[0]] = st
			},
			"releaselock": func(ts *testscript.TestScript, neg bool, args []string) {
				if st := held[args[0]]; st != nil {
					st.Close()
					delete(held, args[0])
				}
			},
			// cpdir SRC DST copies a directory tree.
			"cpdir": func(ts *testscript.TestScript, neg bool, args []string) {
				dst := ts.MkAbs(args[1])
				ts.Check(os.RemoveAll(dst))
				ts.Check(os.CopyFS(dst, os.DirFS(ts.MkAbs(args[0]))))
			},
			// filesize FILE N: require FILE to be N bytes.
			"filesize": func(ts *testscript.TestScript, neg bool, args []string) {
				st, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				if fmt.Sprint(st.Size()) != args[1] {
					ts.Fatalf("%s is %d bytes, want %s", args[0], st.Size(), args[1])
				}
			},
			// perm FILE MODE: require the file's permission bits.
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				st, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				if got := fmt.Sprintf("%o", st.Mode()&fs.ModePerm); got != args[1] {
					ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
				}
			},
		},
	})
}

func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "WORK", "CUSTOS_PASSWORD", "CUSTOS_LOG_PASSWORD", "CUSTOS_ADMIN_PASSWORD", "CUSTOS_WITNESS_PASSWORD", "CUSTOS_LEDGER", "GOCOVERDIR"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}
