package custody

import (
	"errors"
	"fmt"
)

// ParseError is returned by every parser of this package for malformed input.
//
// What names what was being parsed ("statement", "envelope", "public key",
// "private key"), Field the offending field as a path into it (for example
// "subject[1].digest.sha256"), or "" when the input as a whole is at fault
// (too large, not JSON, trailing data, not canonical). Err says what was wrong;
// it never holds key material or a password.
type ParseError struct {
	What  string
	Field string
	Err   error
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("malformed %s: %v", e.What, e.Err)
	}
	return fmt.Sprintf("malformed %s: %s: %v", e.What, e.Field, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

func parseErr(what, field, format string, args ...any) *ParseError {
	return &ParseError{What: what, Field: field, Err: fmt.Errorf(format, args...)}
}

// SignatureError is returned by VerifyEnvelope when a well-formed envelope
// carries no valid signature by the given key. KeyID is that key's KeyID.
type SignatureError struct {
	KeyID string
	Err   error
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("signature by key %s does not verify: %v", e.KeyID, e.Err)
}

func (e *SignatureError) Unwrap() error { return e.Err }

// ErrWrongPassword is returned by ParsePrivateKey when a well-formed encrypted
// key does not decrypt with the given password. An encrypted key file whose
// ciphertext was altered cannot be told apart from a wrong password (the
// secretbox authenticator fails either way). Check with errors.Is.
var ErrWrongPassword = errors.New("custody: wrong password for private key (or the key file was altered)")
