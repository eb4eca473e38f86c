// What the viewer takes from @asyncapi/parser, from the modules that hold it: the package's index also
// brings the parser itself (Spectral, ajv), whose schemas compile with `new Function` when loaded.
export { isAsyncAPIDocument, isOldAsyncAPIDocument, toAsyncAPIDocument } from '@asyncapi/parser/esm/document.js'
export { unstringify } from '@asyncapi/parser/esm/stringify.js'
export { Schema as SchemaV2 } from '@asyncapi/parser/esm/models/v2/schema.js'
