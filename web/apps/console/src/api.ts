// The console's one API client and the signed-in clerk. A clerk's session lives in sessionStorage: it
// ends with the browser tab, as a shared counter machine needs.
import { reactive } from 'vue'
import { createApi, ok, type Schema } from '@tms/api'
import type { StaffRole } from './feature'

export const SIGNED_OUT = 'tms:signed-out'

export const api = createApi({
  storageKey: 'tms.console.session',
  storage: globalThis.sessionStorage ?? null,
  onSignedOut: () => {
    clerk.account = null
    window.dispatchEvent(new Event(SIGNED_OUT))
  },
})

type Account = Schema<'AccountOut'>

export const clerk = reactive<{ account: Account | null }>({ account: null })

export function signedIn(): boolean {
  return api.session.get() !== null
}

export async function loadClerk(): Promise<Account | null> {
  if (!signedIn()) return null
  clerk.account = await ok(api.GET('/api/v1/users/me'))
  return clerk.account
}

export function hasRole(roles: readonly StaffRole[]): boolean {
  const mine = clerk.account?.roles ?? []
  return roles.some((role) => mine.includes(role))
}
