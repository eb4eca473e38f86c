// Stands in for the viewer's own parser helper (helpers/parser.js), which the parser-less entry never calls
// but its helpers index still imports, and with it every schema parser (Avro, Protobuf, OpenAPI).
export class Parser {
  static parse() {
    throw new Error('this page shows documents parsed at build time')
  }

  static parseFromUrl() {
    throw new Error('this page shows documents parsed at build time')
  }
}
