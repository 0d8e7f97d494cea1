package custody

import "embed"

// Schemas holds the JSON Schema (draft 2020-12) of each custody predicate,
// as schema/<event>.schema.json, where <event> is the Event* name
// (schema/release.schema.json for PredicateRelease). Each schema's $id is
// its predicate type. TestSchemasMatchPredicates keeps them equal to the
// predicate structs: same properties, same required fields, no others.
//
//go:embed schema/*.json
var Schemas embed.FS
