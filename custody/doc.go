// Package custody is the domain of custos: the in-toto Statements that record
// custody events, the DSSE envelopes in which actors sign them, the actors'
// keys, the custody state machine (Apply) and forensic hashing (Digest).
// It knows nothing of storage, clocks or the network: Apply is a pure
// function of the entry and the records it reads through a View, so the
// ledger, fsck and an offline verifier replaying a bundle all reach the same
// state from the same leaves. The one file it opens is the artifact that
// DigestFile hashes.
//
// # What it promises
//
//   - Parsers (ParseStatement, ParseEnvelope, ParsePublicKey, ParsePrivateKey)
//     cap their input before parsing, never panic, and report every malformed
//     input as a single *ParseError naming what was parsed and which field was
//     wrong.
//   - Envelopes have exactly one encoding: ParseEnvelope accepts only the bytes
//     that Envelope.Marshal produces for the parsed value, so an envelope stored
//     in a ledger leaf cannot be re-encoded into different bytes that carry the
//     same signatures.
//   - SignStatement and VerifyEnvelope follow DSSE v1
//     (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md):
//     the signature covers PAE(payloadType, payload), the payload type is always
//     PayloadType and is checked on verify, and the DSSE keyid is
//     PublicKey.KeyID. Any DSSE or in-toto implementation can check them.
//   - Custody rules (DESIGN.md §2, PREDICATES.md) are checked by Apply before an
//     entry is appended and again on every replay; a refusal is a *RuleError
//     naming the rule, the exhibit and its holder. Key state is judged as of
//     the entry's leaf index, never by a clock.
//   - Digest reads an artifact once and feeds every hash of the set from
//     shared buffers, one goroutine per hash.
//   - Private keys exist on disk only encrypted with a password (scrypt and
//     NaCl secretbox, the sigstore "ENCRYPTED SIGSTORE PRIVATE KEY" format).
//     No error ever contains key material or a password.
//
// sigstore (github.com/sigstore/sigstore) does the signing, the verification
// and the key encodings; it is kept behind PrivateKey and PublicKey so that no
// other package of custos imports it.
package custody
