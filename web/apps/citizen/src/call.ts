// Run one API call for a screen: a busy flag for the button, and the refusal shown in plain Chinese with
// its rule, plus the wait the server asked for (Retry-After) when it asked.
import { ref } from 'vue'
import { showFailToast } from 'vant'
import { ApiError } from '@tms/api'

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    return error.retryAfter ? `${error.message}，请 ${error.retryAfter} 秒后再试` : error.message
  }
  return '操作未能完成，请稍后再试'
}

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
