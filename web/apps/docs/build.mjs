// The API reference at /api/docs/: the page, its script and style, the two viewers (served by the platform
// itself, never a CDN), and every service's AsyncAPI document (services/*/contracts/asyncapi.yaml) with an
// index for the page's service picker.
//
// Swagger UI's browser bundle is copied as it is. The AsyncAPI viewer is bundled here (esbuild, about a
// second) without its parser, and its documents are parsed here too: the parser validates with ajv and
// Spectral, which compile schemas with `new Function` as soon as they load, and the page's CSP
// (script-src 'self', no 'unsafe-eval') forbids that. The viewer gets each document in the parser's
// stringified form, which it reads without validating.
import { build } from 'esbuild'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..', '..')
const out = join(repo, 'web', 'dist', 'api', 'docs')
const require = createRequire(import.meta.url)
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`))

rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'vendor'), { recursive: true })
mkdirSync(join(out, 'events'), { recursive: true })

cpSync(join(here, 'index.html'), join(out, 'index.html'))
cpSync(join(here, 'src', 'docs.js'), join(out, 'docs.js'))
cpSync(join(here, 'src', 'docs.css'), join(out, 'docs.css'))

// [package dir, file in it, name served]; a bundle's licence file goes along under the name its banner cites.
const swagger = packageDir('swagger-ui-dist')
const asyncapi = packageDir('@asyncapi/react-component')
const copies = [
  [swagger, 'swagger-ui-bundle.js', 'swagger-ui-bundle.js'],
  [swagger, 'swagger-ui-bundle.js.LICENSE.txt', 'swagger-ui-bundle.js.LICENSE.txt'],
  [swagger, 'swagger-ui.css', 'swagger-ui.css'],
  [swagger, 'LICENSE', 'swagger-ui.LICENSE.txt'],
  [asyncapi, 'styles/default.min.css', 'asyncapi.css'],
  [asyncapi, 'LICENSE', 'asyncapi-react.LICENSE.txt'],
]
for (const [dir, file, name] of copies) {
  // The source maps are not shipped: drop the comment naming them, so no browser asks for a missing file.
  const text = readFileSync(join(dir, file), 'utf8').replace(/\n?\/[/*][#@] sourceMappingURL=[^\n]*$/, '')
  writeFileSync(join(out, 'vendor', name), text)
}

const shim = join(here, 'src', 'asyncapi')
const specVersions = Object.keys(require('@asyncapi/specs').schemas)
const withoutParser = {
  name: 'asyncapi-without-parser',
  setup(b) {
    // The package's index exports the parser too; take only the models, the reader of stringified documents.
    b.onResolve({ filter: /^@asyncapi\/parser$/ }, () => ({ path: join(shim, 'parser.js') }))
    // The models read one constant of Spectral's; the rest of Spectral is the validator.
    b.onResolve({ filter: /^@stoplight\/spectral-core$/ }, () => ({ path: join(shim, 'spectral-core.js') }))
    // The viewer's parse helper, imported by its helpers' index but never called without a parser.
    b.onResolve({ filter: /^\.\/parser$/ }, (args) =>
      args.importer.includes(join('react-component', 'lib', 'esm', 'helpers'))
        ? { path: join(shim, 'no-parser.js') }
        : undefined,
    )
    // The parser's constants list the spec versions from the JSON schemas (3 MB): keep the names only.
    b.onResolve({ filter: /^@asyncapi\/specs$/ }, () => ({ path: 'specs', namespace: 'asyncapi-specs' }))
    b.onLoad({ filter: /.*/, namespace: 'asyncapi-specs' }, () => ({
      contents: `export default { schemas: ${JSON.stringify(Object.fromEntries(specVersions.map((v) => [v, {}])))} }`,
    }))
  },
}
await build({
  entryPoints: [join(shim, 'entry.js')],
  outfile: join(out, 'vendor', 'asyncapi.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  legalComments: 'linked',
  plugins: [withoutParser],
  logLevel: 'warning',
})

// One entry per service with a contract: {name, title, description, file (YAML), parsed (for the viewer)}.
// The rulesets are off: validating the contracts is `make contracts`' business, and the parser returns no
// document at all when its validator faults one, which would leave a service out of its own reference.
const { Parser, stringify } = require('@asyncapi/parser')
const parser = new Parser({ ruleset: { core: false, recommended: false } })
const servicesDir = join(repo, 'services')
const services = []
for (const name of readdirSync(servicesDir).sort()) {
  const contract = join(servicesDir, name, 'contracts', 'asyncapi.yaml')
  if (!existsSync(contract)) continue
  const text = readFileSync(contract, 'utf8')
  const { document, diagnostics } = await parser.parse(text, { source: contract })
  if (document === undefined) {
    const errors = diagnostics.map((d) => `${d.path.join('.')}: ${d.message}`).join('\n  ')
    throw new Error(`${contract} cannot be read as AsyncAPI:\n  ${errors}`)
  }
  const info = document.info()
  const file = `events/${name}.yaml`
  const parsed = `events/${name}.json`
  writeFileSync(join(out, file), text)
  writeFileSync(join(out, parsed), stringify(document))
  services.push({ name, title: info.title(), description: info.description() ?? '', file, parsed })
}
writeFileSync(join(out, 'events', 'index.json'), JSON.stringify(services, null, 2) + '\n')
console.log(`api docs → ${out} (${services.length} event documents)`)
