// The API reference at /api/docs/: copies its page into web/dist/api/docs.
import { cpSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, '..', '..', 'dist', 'api', 'docs')
mkdirSync(out, { recursive: true })
cpSync(join(here, 'index.html'), join(out, 'index.html'))
console.log(`api docs → ${out}`)
