// The citizen app's one API client and the signed-in person, shared by every screen.
import { reactive } from 'vue'
import { createApi, ok, type Schema } from '@tms/api'

/** Sent on `window` when the session ends by itself; App sends the person to sign in again. */
export const SIGNED_OUT = 'tms:signed-out'

export const api = createApi({
  storageKey: 'tms.citizen.session',
  onSignedOut: () => {
    me.account = null
    window.dispatchEvent(new Event(SIGNED_OUT))
  },
})

type Account = Schema<'AccountOut'>

export const me = reactive<{ account: Account | null; loading: boolean }>({ account: null, loading: false })

export function signedIn(): boolean {
  return api.session.get() !== null
}

export async function loadMe(): Promise<Account | null> {
  if (!signedIn()) return null
  me.loading = true
  try {
    me.account = await ok(api.GET('/api/v1/users/me'))
    return me.account
  } finally {
    me.loading = false
  }
}

export function can(capability: string | undefined): boolean {
  return capability === undefined || (me.account?.capabilities ?? []).includes(capability)
}
