// Run one API call for a screen: a busy flag, and a refusal shown in plain Chinese with its rule and the
// wait the server asked for.
import { ref } from 'vue'
import { ElMessage } from 'element-plus'
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
      if (opts.toast !== false) ElMessage.error({ message: describe(e), showClose: true, duration: 6000 })
      if (!(e instanceof ApiError)) console.error(e)
      return undefined
    } finally {
      busy.value = false
    }
  }
  return { busy, error, run }
}
