package custody

import (
	"encoding/json"
	"fmt"
)

// NewStatement builds an in-toto Statement v1 with one subject and the
// given predicate, and checks it with ParseStatement.
func NewStatement(predicateType string, subject Subject, predicate any) ([]byte, error) {
	p, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("custody: encoding %s predicate: %w", predicateType, err)
	}
	b, err := json.Marshal(Statement{
		Type:          StatementType,
		Subject:       []Subject{subject},
		PredicateType: predicateType,
		Predicate:     p,
	})
	if err != nil {
		return nil, err
	}
	if _, err := ParseStatement(b); err != nil {
		return nil, err
	}
	return b, nil
}

// PartySubject is the subject of a party event: the party's key.
func PartySubject(party string, key *PublicKey) Subject {
	return Subject{Name: "party:" + party, Digest: map[string]string{"sha256": key.KeyID()[len("sha256:"):]}}
}

// CheckExhibitID reports whether id is a valid exhibit id, with the error
// Apply would give, so a command can refuse a bad id before it spends an
// hour hashing the artifact.
func CheckExhibitID(id string) error {
	if !exhibitIDPattern.MatchString(id) {
		return fmt.Errorf("exhibit id %q: want %s", id, exhibitIDPattern)
	}
	return nil
}
