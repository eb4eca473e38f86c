// Run one API call for a screen: a busy flag for the button, and the refusal shown in plain Chinese with
// its rule, plus the wait the server asked for (Retry-After) when it asked.
import { ref } from 'vue'
import { showFailToast } from 'vant'
import { ApiError, describe } from '@tms/api'

export { describe }

export function useCall() {
  const busy = ref(false)
  const error = ref<ApiError | null>(null)
  async function run<T>(fn: () => Promise<T>, opts: { toast?: boolean } = {}): Promise<T | undefined> {
    busy.value = true
    error.value = null
    try {
      return await fn()
    } catch (e) {
      error.value = e instanceof ApiError ? e : null
      if (opts.toast !== false) showFailToast({ message: describe(e), wordBreak: 'break-word' })
      if (!(e instanceof ApiError)) console.error(e)
      return undefined
    } finally {
      busy.value = false
    }
  }
  return { busy, error, run }
}
