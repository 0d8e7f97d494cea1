// Package attribution is the attribution-threshold policy language of custos
// and its evaluator (DESIGN.md §3, docs/attribution-policy.md).
//
// A policy is a small, closed, typed document in YAML or JSON: a ladder of
// named levels ("reasonable basis", "reasonable grounds", "clear and
// convincing"), each a set of rules from four families: integrity gates, a
// quality floor, corroboration by independent lines, and contradictions. The
// evaluator applies a policy to the evidence graph of a hypothesis as of a
// log checkpoint and returns a Verdict: the highest level reached, every rule
// of every level with its counts and the leaf indices that satisfied or
// violated it, the fate of every supporting finding, and whether the
// hypothesis asserts a likelihood above what the level allows.
//
// # What it promises
//
//   - Evaluate is a pure function of (policy bytes, policy index, graph,
//     hypothesis id): no clock, no I/O, no randomness, no map-order
//     dependence, no floating point. The order of the graph's slices and the
//     iteration order of its maps do not matter. Verdict.Marshal of the
//     result is byte-identical for anyone who evaluates the same inputs.
//   - ParsePolicy caps its input at MaxPolicySize before parsing, never
//     panics, refuses unknown fields, duplicate keys and trailing data, and
//     reports every problem as one *ParseError naming the field's path.
//   - A valid policy's levels are each at least as strict as the one below,
//     so a hypothesis that reaches a level reaches every level below it.
//   - ParseVerdict accepts only the bytes that Verdict.Marshal produces.
//
// The package imports nothing of custos: the custody state machine builds the
// Graph from ledger entries and uses ValidGrade, ValidCategory,
// ValidLikelihood and friends to validate predicates on append.
package attribution
