export { createApi, idempotencyKey, ok, type Api, type ApiOptions, type SignInStep } from './client'
export { ApiError, describe, reasonFor, type Problem } from './problem'
export type { Session, Tokens } from './session'
export type { paths, components } from './schema'

import type { components } from './schema'
/** A schema of the merged OpenAPI document by name: `Schema<'TokensOut'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name]
