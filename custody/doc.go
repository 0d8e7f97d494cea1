// Package custody is the domain of custos: the in-toto Statements that record
// custody events, the DSSE envelopes in which actors sign them, and the actors'
// keys. It knows nothing of storage, clocks or the network; every function is
// a pure function of the bytes it is given (key generation aside).
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
//   - Private keys exist on disk only encrypted with a password (scrypt and
//     NaCl secretbox, the sigstore "ENCRYPTED SIGSTORE PRIVATE KEY" format).
//     No error ever contains key material or a password.
//
// sigstore (github.com/sigstore/sigstore) does the signing, the verification
// and the key encodings; it is kept behind PrivateKey and PublicKey so that no
// other package of custos imports it.
package custody
