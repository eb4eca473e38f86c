// PP-06 随机选号 and PP-10's line: one logical draw asked again while it waits in line (202), always with
// the same Idempotency-Key, so that a lost answer never costs a second draw. The server says when to ask
// again (Retry-After); waiting spends no draw, and numbers already held stay held.
import { onBeforeUnmount, ref } from 'vue'
import { idempotencyKey } from '@tms/api'
import { api } from '@/api'
import { useCall } from '@/call'
import type { Queued } from '../plates'

export function useDraw(selectionId: () => string, onDone: () => void) {
  const call = useCall()
  const queued = ref<Queued | null>(null)
  const waitLeft = ref(0)
  let retry: number | undefined
  let ticker: number | undefined

  function stop(): void {
    window.clearTimeout(retry)
    window.clearInterval(ticker)
    queued.value = null
  }
  onBeforeUnmount(stop)

  async function draw(): Promise<void> {
    stop()
    const key = idempotencyKey()
    const attempt = async (): Promise<void> => {
      const answer = await call.run(() =>
        api.POST('/api/v1/plate-selections/{selection_id}/random-draws', {
          params: { path: { selection_id: selectionId() }, header: { 'Idempotency-Key': key } },
        }),
      )
      if (answer?.response.status === 202) {
        const place = answer.data as unknown as Queued
        const after = Number(answer.response.headers.get('retry-after')) || place.retry_after_s
        queued.value = place
        waitLeft.value = after
        window.clearInterval(ticker)
        ticker = window.setInterval(() => (waitLeft.value = Math.max(0, waitLeft.value - 1)), 1000)
        retry = window.setTimeout(attempt, after * 1000)
        return
      }
      stop()
      onDone()
    }
    await attempt()
  }

  return { draw, stop, queued, waitLeft, busy: call.busy }
}
