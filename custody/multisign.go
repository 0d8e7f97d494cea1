package custody

import (
	"errors"
	"fmt"
)

// SignStatementMulti signs stmt, as SignStatement does, with every key: one
// DSSE envelope whose signatures are in the order of keys, one per key, each
// with its key id. Key ids must be distinct. It returns the canonical
// encoding (Envelope.Marshal) and checks every signature before returning.
//
// DSSE signs PAE(payloadType, payload), which does not depend on the other
// signatures, so the envelope is the union of single-key envelopes.
func SignStatementMulti(stmt []byte, keys ...*PrivateKey) ([]byte, error) {
	if len(keys) == 0 || len(keys) > MaxSignatures {
		return nil, fmt.Errorf("custody: want 1 to %d signing keys, got %d", MaxSignatures, len(keys))
	}
	e := Envelope{PayloadType: PayloadType, Payload: stmt}
	seen := map[string]bool{}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("custody: no signing key")
		}
		id := k.pub.keyID
		if seen[id] {
			return nil, fmt.Errorf("custody: key %s given twice", id)
		}
		seen[id] = true
		one, err := SignStatement(stmt, k)
		if err != nil {
			return nil, err
		}
		oe, err := ParseEnvelope(one)
		if err != nil {
			return nil, fmt.Errorf("custody: reading the signature of %s: %w", id, err)
		}
		e.Signatures = append(e.Signatures, oe.Signatures...)
	}
	env := e.Marshal()
	for _, k := range keys {
		if _, err := VerifyEnvelope(env, k.pub); err != nil {
			return nil, fmt.Errorf("custody: checking the signature of %s: %w", k.pub.keyID, err)
		}
	}
	return env, nil
}
