// How the violation screens write money, times and the penalty, and why a violation cannot be handled
// online (VI-02), in plain Chinese.
import { reasonFor } from '@tms/api'

const TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
})

/** 200.00: money is kept in fen (分) everywhere. */
export function yuan(fen: number): string {
  return (fen / 100).toFixed(2)
}

/** 2026-11-20 18:42, in Beijing time whatever the phone's zone. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—'
  const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
}

export function penaltyText(v: { penalty: string; fine_fen: number; points: number }): string {
  const fine = v.penalty === 'fine' && v.fine_fen > 0 ? `罚款 ${yuan(v.fine_fen)} 元` : '警告'
  return v.points > 0 ? `${fine}，记 ${v.points} 分` : fine
}

export const PAYMENT_STATE: Record<string, { text: string; type: 'success' | 'danger' | 'primary' }> = {
  unpaid: { text: '未缴款', type: 'danger' },
  paid: { text: '已缴款', type: 'success' },
  not_applicable: { text: '无需缴款', type: 'primary' },
}

export const VIOLATION_STATE: Record<string, { text: string; type: 'warning' | 'success' }> = {
  open: { text: '未处理', type: 'warning' },
  decided: { text: '已处理', type: 'success' },
}

/** The refusal the detail view names (`handling.refusal`), as a sentence with its rule. */
export function handlingRefusal(code: string): string {
  const rule = code === 'VIOLATION_ALREADY_HANDLED' ? 'VI-03' : 'VI-02'
  return reasonFor({ status: 409, code, rule })
}
