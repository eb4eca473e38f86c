// The one API client of an app: typed paths from the merged OpenAPI document (openapi-fetch), the
// session's tokens with refresh on expiry or 401, an Idempotency-Key on every POST, and every non-2xx
// answer thrown as an ApiError (a problem+json document with Retry-After read).
import createClient from 'openapi-fetch'
import type { components, paths } from './schema'
import { ApiError, networkError, parseRetryAfter, problemOf } from './problem'
import { SessionStore, type Session, type Tokens } from './session'

export interface ApiOptions {
  /** '' in the browser: the apps are served by the platform's own gateway. */
  baseUrl?: string
  /** where this app keeps its session (each app its own, so a clerk and a citizen never share one) */
  storageKey: string
  storage?: Storage | null
  /** called when the session ends by itself (refresh refused), so the app can send the person to sign in */
  onSignedOut?: () => void
}

/** A fresh key per logical request; a retry of the same Request object reuses it. Works outside secure
 * contexts too (a phone opening the platform by its LAN address has no crypto.randomUUID). */
export function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function createApi(options: ApiOptions) {
  const baseUrl = options.baseUrl ?? ''
  const storage = options.storage === undefined ? globalThis.localStorage ?? null : options.storage
  const session = new SessionStore(options.storageKey, storage)
  let refreshing: Promise<Session | null> | null = null

  async function refresh(): Promise<Session | null> {
    const current = session.get()
    if (!current?.refreshToken) return null
    refreshing ??= (async () => {
      try {
        const response = await fetch(`${baseUrl}/api/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: current.refreshToken }),
        })
        if (!response.ok) {
          session.set(null)
          options.onSignedOut?.()
          return null
        }
        session.set((await response.json()) as Tokens)
        return session.get()
      } catch {
        return session.get() // offline: keep the session, the call itself reports the network
      } finally {
        refreshing = null
      }
    })()
    return refreshing
  }

  function withAuth(request: Request, current: Session | null): Request {
    const headers = new Headers(request.headers)
    if (current && !headers.has('authorization')) headers.set('authorization', `Bearer ${current.accessToken}`)
    return new Request(request, { headers })
  }

  async function send(input: Request): Promise<Response> {
    const headers = new Headers(input.headers)
    if (input.method === 'POST' && !headers.has('idempotency-key')) headers.set('idempotency-key', idempotencyKey())
    const request = new Request(input, { headers })
    const again = request.clone()
    let current = session.get()
    if (current && current.expiresAt < Date.now()) current = (await refresh()) ?? null
    let response: Response
    try {
      response = await fetch(withAuth(request, current))
      if (response.status === 401 && current?.refreshToken) {
        const renewed = await refresh()
        if (renewed) response = await fetch(withAuth(again, renewed))
      }
    } catch (cause) {
      throw networkError(cause)
    }
    if (!response.ok) throw new ApiError(await problemOf(response), parseRetryAfter(response.headers.get('retry-after')))
    return response
  }

  const client = createClient<paths>({ baseUrl, fetch: send })

  /** The session begins when the answer carries tokens; a staff sign-in answers with its next step
   * first (ADR 0091: enrol or give the second factor, then a new password when it expired). */
  function settle(data: Tokens | SignInStep | undefined): SignInStep | null {
    if (data && 'step' in data) return data
    session.set(data as Tokens)
    return null
  }

  async function signIn(username: string, password: string): Promise<SignInStep | null> {
    const { data } = await client.POST('/api/v1/auth/login', { body: { username, password } })
    return settle(data)
  }

  async function secondFactor(challenge: string, code: string): Promise<SignInStep | null> {
    const { data } = await client.POST('/api/v1/auth/login/second-factor', { body: { challenge, code } })
    return settle(data)
  }

  async function newPassword(challenge: string, newPassword: string): Promise<SignInStep | null> {
    const { data } = await client.POST('/api/v1/auth/login/new-password', {
      body: { challenge, new_password: newPassword },
    })
    return settle(data)
  }

  async function signOut(): Promise<void> {
    const refreshToken = session.get()?.refreshToken
    session.set(null)
    if (refreshToken) {
      await client.POST('/api/v1/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => undefined)
    }
  }

  return { client, session, signIn, secondFactor, newPassword, signOut, ...client }
}

export type Api = ReturnType<typeof createApi>

/** A step of a staff sign-in still to answer, with its challenge (ADR 0091). */
export type SignInStep = components['schemas']['SignInStepOut']

/** The data of a successful call, typed; the call itself throws ApiError for anything else. */
export async function ok<T>(pending: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data } = await pending
  return data as T
}
