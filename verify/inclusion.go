package verify

import (
	"bytes"
	"fmt"

	"github.com/custos-ledger/custos/ledger"
)

// inclusion checks the leaf's tlog-proof against the bundle's checkpoint.
// h is the leaf's hash, computed from leafBytes. The proof is parsed by
// the memo's parser, which decodes only the hash lines the last proof did
// not have. A proof that carries the bundle's checkpoint byte for byte is
// run against the root already verified, through memo; any other must
// verify on its own (Inclusion) and be of the same size and root.
func (v *bundleVerifier) inclusion(memo *pathMemo, proofText, leafBytes []byte, l *ledger.Leaf, h ledger.Hash) error {
	p, err := memo.proofs.Parse(proofText)
	if err != nil {
		return err
	}
	if !bytes.Equal(p.Checkpoint, v.signedCP) {
		c, err := Inclusion(proofText, leafBytes, v.logKey)
		if err != nil {
			return err
		}
		if c.Size != v.cp.Size || c.Root != v.cp.Root {
			return fmt.Errorf("tlog-proof of leaf %d is against a checkpoint of size %d (root %s), not the bundle's of size %d (root %s)", l.Index, c.Size, c.Root, v.cp.Size, v.cp.Root)
		}
		return nil
	}
	if p.Index != l.Index {
		return fmt.Errorf("tlog-proof is for leaf %d, but the leaf records index %d", p.Index, l.Index)
	}
	if p.Index >= v.cp.Size {
		return fmt.Errorf("leaf %d is beyond the checkpoint's size %d", p.Index, v.cp.Size)
	}
	if err := memo.check(p.Path, p.Index, h); err != nil {
		return fmt.Errorf("leaf %d (leaf hash %s, recomputed) is not proved in the tree of size %d with root %s: %v", p.Index, h, v.cp.Size, v.cp.Root, err)
	}
	return nil
}
