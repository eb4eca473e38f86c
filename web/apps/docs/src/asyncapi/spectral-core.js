// The parser's models read one constant of Spectral's (the range of a diagnostic without a document); the
// rest of Spectral validates, which this page does not do.
export const Document = { DEFAULT_RANGE: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }
