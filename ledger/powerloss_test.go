package ledger_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPowerLoss (reliability-anchors §5 row 20) cuts the power under a
// process appending to a ledger, as far as a test can without
// device-mapper: the ledger lives on an ext4 file system in an image file
// attached to a loop device. After the child is killed (SIGKILL, mid
// append), the test waits until the loop device has no request in flight
// and copies the image file. The copy holds exactly what the file system
// had sent to its "disk": every write that was fsynced, plus whatever the
// kernel happened to write back, and none of the dirty pages still in the
// page cache, which is what a power cut loses. The original is then
// unmounted and thrown away; the copy is mounted (ext4 replays its
// journal, as after a reboot) and must hold every acknowledged leaf with
// its hash and pass Fsck. The next round appends to the recovered copy.
//
// What it cannot show: a disk that reorders or drops writes it already
// acknowledged to the kernel (a volatile write cache without barriers),
// which needs dm-log-writes or LazyFS. It needs root, losetup and
// mkfs.ext4, and is skipped with the reason otherwise.
func TestPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("power loss: mounts an ext4 image per round")
	}
	if os.Geteuid() != 0 {
		t.Skip("power loss: needs root to attach a loop device and mount ext4 (CI runs as root)")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("power loss: %s not found (Debian: e2fsprogs, mount)", tool)
		}
	}
	rounds := 12
	root := t.TempDir()
	img := filepath.Join(root, "disk.img")
	mnt := filepath.Join(root, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 512<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Skipf("power loss: mkfs.ext4: %v: %s", err, out)
	}
	disk := &loopDisk{img: img, mnt: mnt}
	if err := disk.mount(); err != nil {
		t.Skipf("power loss: cannot mount an ext4 image on a loop device here: %v", err)
	}
	t.Cleanup(func() { disk.unmount() })

	skey, vkey := generateKey(t, "example.org/power-loss")
	keys := parseKeys(t, skey, vkey)
	cl := &crashLedger{name: "power", dir: filepath.Join(mnt, "store"), lastRound: rounds}
	lostDirty, canaries := 0, 0
	for round := range rounds {
		r := crashRound(t, cl, skey, vkey, "delay")
		// A canary written without fsync just before the cut: if the
		// cut is real, it is lost (ext4 writes data back after seconds).
		canary := filepath.Join(mnt, "canary")
		if err := os.WriteFile(canary, []byte("written, never synced"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := disk.waitIdle(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		// The power cut: the image as the loop device left it.
		snap := img + ".cut"
		if out, err := exec.Command("cp", "--sparse=always", img, snap).CombinedOutput(); err != nil {
			t.Fatalf("copying the image: %v: %s", err, out)
		}
		// What the page cache still held: the checkpoint file as the
		// running system sees it, against the one after the cut.
		before, _ := os.ReadFile(cl.dir + ".checkpoint")
		if err := disk.unmount(); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(snap, img); err != nil {
			t.Fatal(err)
		}
		if err := disk.mount(); err != nil {
			t.Fatalf("round %d: mounting the image after the cut: %v", round, err)
		}
		after, _ := os.ReadFile(cl.dir + ".checkpoint")
		if !bytes.Equal(before, after) {
			lostDirty++
		}
		if b, _ := os.ReadFile(canary); len(b) == 0 {
			canaries++
		}
		os.Remove(canary)
		cl.tally(r)
		cl.check(t, round, r, keys)
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("power loss: %d rounds (%d cut while opening, %d before the first ack, %d after acks); %d leaves, %d acknowledged, 0 lost; the unsynced canary was lost in %d rounds; the checkpoint file lost a write the running system had seen in %d",
		cl.rounds, cl.duringOpen, cl.beforeAck, cl.acked, cl.lastSize, cl.totalAcks, canaries, lostDirty)
	if canaries == 0 {
		t.Errorf("power loss: an unsynced file survived every cut: the copy is not a power cut, and the test shows nothing")
	}
	if cl.totalAcks == 0 {
		t.Errorf("power loss: no append was acknowledged in %d rounds: the test tested nothing", rounds)
	}
}

// loopDisk is an image file mounted through a loop device.
type loopDisk struct {
	img, mnt string
	dev      string // /dev/loopN while mounted
}

func (d *loopDisk) mount() error {
	out, err := exec.Command("losetup", "-f", "--show", d.img).Output()
	if err != nil {
		return fmt.Errorf("losetup: %w", err)
	}
	d.dev = strings.TrimSpace(string(out))
	if out, err := exec.Command("mount", "-t", "ext4", d.dev, d.mnt).CombinedOutput(); err != nil {
		exec.Command("losetup", "-d", d.dev).Run()
		d.dev = ""
		return fmt.Errorf("mount: %v: %s", err, out)
	}
	return nil
}

func (d *loopDisk) unmount() error {
	if d.dev == "" {
		return nil
	}
	if out, err := exec.Command("umount", d.mnt).CombinedOutput(); err != nil {
		return fmt.Errorf("umount: %v: %s", err, out)
	}
	err := exec.Command("losetup", "-d", d.dev).Run()
	d.dev = ""
	return err
}

// waitIdle waits until the loop device has no read or write in flight.
func (d *loopDisk) waitIdle(limit time.Duration) error {
	path := filepath.Join("/sys/block", filepath.Base(d.dev), "inflight")
	deadline := time.Now().Add(limit)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if f := strings.Fields(string(b)); len(f) == 2 && f[0] == "0" && f[1] == "0" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still busy after %v: %s", d.dev, limit, b)
		}
		time.Sleep(time.Millisecond)
	}
}
